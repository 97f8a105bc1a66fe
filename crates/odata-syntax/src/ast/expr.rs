//! The expression language of `$filter`, `$orderby`, `$compute`, aliases
//! and function arguments.

use std::fmt;

use super::literal::write_quoted;
use super::{join, Literal, QualifiedName, QueryOptions, Span};

/// An expression node.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What kind of expression.
    pub kind: ExprKind,
    /// Where it was in the decoded text.
    pub span: Span,
}

/// The kinds of expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A primitive literal.
    Literal(Literal),
    /// A JSON string (`"..."`), only inside JSON arrays and objects.
    JsonString(String),
    /// A JSON array `[a, b]`; elements are expressions.
    Array(Vec<Expr>),
    /// A JSON object `{"name": value}`.
    Object(Vec<JsonMember>),
    /// A parenthesised list of literals, `('a','b')`, only as right operand
    /// of `in`.
    List(Vec<Expr>),
    /// A parameter alias `@name` on its own. Followed by a path it is the
    /// start of a [`MemberPath`] ([`PathStart::Alias`]).
    Alias(String),
    /// A member path: `Address/City`, `$it/Name`, `$root/People('x')`,
    /// `Orders/any(o:o/Total gt 5)`, `Model.Fn(x=1)`.
    Path(MemberPath),
    /// A prefix operator.
    Unary {
        /// `-` or `not`.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// An infix operator (including `has` and `in`). Both operands live in
    /// one allocation: binary nodes are the most frequent nodes of a filter.
    Binary(Box<BinaryExpr>),
    /// An unqualified canonical function call: `contains(Name,'x')`.
    Call {
        /// Which function.
        function: Function,
        /// The arguments, already checked for arity.
        args: Vec<Expr>,
    },
    /// `cast(expr, Type)` / `cast(Type)` and `isof(...)`.
    TypeCheck {
        /// `cast` or `isof`.
        kind: TypeCheckKind,
        /// The expression; `None` means the current instance (`$it`).
        expr: Option<Box<Expr>>,
        /// The target type, qualified or not, possibly `Collection(...)`.
        type_name: Box<TypeName>,
    },
    /// `case(cond:value, ...)`.
    Case(Vec<CaseArm>),
}

/// The operator and operands of [`ExprKind::Binary`].
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    /// The operator.
    pub op: BinaryOp,
    /// Left operand.
    pub left: Expr,
    /// Right operand.
    pub right: Expr,
}

/// A member `"name": value` of a JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonMember {
    /// The member name, unescaped.
    pub name: String,
    /// The value.
    pub value: Expr,
}

/// One `condition : value` pair of `case(...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseArm {
    /// The Boolean condition.
    pub condition: Expr,
    /// The result when it holds.
    pub value: Expr,
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-`.
    Neg,
    /// `not`.
    Not,
}

/// Infix operators, in the spec's precedence groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `or`.
    Or,
    /// `and`.
    And,
    /// `eq`.
    Eq,
    /// `ne`.
    Ne,
    /// `lt`.
    Lt,
    /// `le`.
    Le,
    /// `gt`.
    Gt,
    /// `ge`.
    Ge,
    /// `add`.
    Add,
    /// `sub`.
    Sub,
    /// `mul`.
    Mul,
    /// `div`.
    Div,
    /// `divby` (decimal division).
    DivBy,
    /// `mod`.
    Mod,
    /// `has` (enum flags).
    Has,
    /// `in`.
    In,
}

impl BinaryOp {
    /// The operator's keyword (lower case, as written by 4.0 clients).
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "eq",
            BinaryOp::Ne => "ne",
            BinaryOp::Lt => "lt",
            BinaryOp::Le => "le",
            BinaryOp::Gt => "gt",
            BinaryOp::Ge => "ge",
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::DivBy => "divby",
            BinaryOp::Mod => "mod",
            BinaryOp::Has => "has",
            BinaryOp::In => "in",
        }
    }

    /// Binding power per OData 4.01 Part 2 §5.1.1.15 (higher binds tighter):
    /// or < and < eq ne < gt ge lt le < add sub < mul div divby mod
    /// < unary (`-`, `not`) < has in. All binary operators are left-associative.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq | BinaryOp::Ne => 3,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::DivBy | BinaryOp::Mod => 6,
            BinaryOp::Has | BinaryOp::In => 8,
        }
    }

    /// Looks up an operator keyword given as bytes, case-insensitively.
    /// (Packs the lower-cased bytes into an integer: this runs after every
    /// operand of every expression.)
    pub fn from_keyword_bytes(word: &[u8]) -> Option<BinaryOp> {
        if word.len() > 5 {
            return None;
        }
        let mut key: u64 = 0;
        for b in word {
            key = (key << 8) | u64::from(b.to_ascii_lowercase());
        }
        const fn k(s: &[u8]) -> u64 {
            let mut key = 0u64;
            let mut i = 0;
            while i < s.len() {
                key = (key << 8) | s[i] as u64;
                i += 1;
            }
            key
        }
        const OR: u64 = k(b"or");
        const AND: u64 = k(b"and");
        const EQ: u64 = k(b"eq");
        const NE: u64 = k(b"ne");
        const LT: u64 = k(b"lt");
        const LE: u64 = k(b"le");
        const GT: u64 = k(b"gt");
        const GE: u64 = k(b"ge");
        const ADD: u64 = k(b"add");
        const SUB: u64 = k(b"sub");
        const MUL: u64 = k(b"mul");
        const DIV: u64 = k(b"div");
        const DIVBY: u64 = k(b"divby");
        const MOD: u64 = k(b"mod");
        const HAS: u64 = k(b"has");
        const IN: u64 = k(b"in");
        Some(match key {
            OR => BinaryOp::Or,
            AND => BinaryOp::And,
            EQ => BinaryOp::Eq,
            NE => BinaryOp::Ne,
            LT => BinaryOp::Lt,
            LE => BinaryOp::Le,
            GT => BinaryOp::Gt,
            GE => BinaryOp::Ge,
            ADD => BinaryOp::Add,
            SUB => BinaryOp::Sub,
            MUL => BinaryOp::Mul,
            DIV => BinaryOp::Div,
            DIVBY => BinaryOp::DivBy,
            MOD => BinaryOp::Mod,
            HAS => BinaryOp::Has,
            IN => BinaryOp::In,
            _ => return None,
        })
    }

    /// Looks up an operator keyword, case-insensitively (4.01).
    pub fn from_keyword(word: &str) -> Option<BinaryOp> {
        const ALL: [BinaryOp; 16] = [
            BinaryOp::Or,
            BinaryOp::And,
            BinaryOp::Eq,
            BinaryOp::Ne,
            BinaryOp::Lt,
            BinaryOp::Le,
            BinaryOp::Gt,
            BinaryOp::Ge,
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::DivBy,
            BinaryOp::Mod,
            BinaryOp::Has,
            BinaryOp::In,
        ];
        ALL.into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

/// Precedence of the unary operators (between multiplicative and has/in).
pub const UNARY_PRECEDENCE: u8 = 7;

/// `cast` or `isof`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeCheckKind {
    /// `cast(...)`.
    Cast,
    /// `isof(...)`.
    IsOf,
}

/// A type name in `cast`/`isof`: `Edm.String`, `Model.Customer`,
/// `Customer`, `Collection(Edm.Int32)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeName {
    /// The (possibly qualified) element type.
    pub name: QualifiedName,
    /// Whether it was wrapped in `Collection(...)`.
    pub collection: bool,
}

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.collection {
            write!(f, "Collection({})", self.name)
        } else {
            write!(f, "{}", self.name)
        }
    }
}

macro_rules! functions {
    ($($(#[$m:meta])* $variant:ident = $name:literal, $min:literal ..= $max:literal;)*) => {
        /// The canonical (built-in, unqualified) functions of OData 4.01.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Function {
            $($(#[$m])* $variant,)*
        }

        impl Function {
            /// Every canonical function's name, for suggestions when a
            /// call names none of them.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// The function's name as the specification spells it.
            pub fn name(self) -> &'static str {
                match self { $(Function::$variant => $name,)* }
            }

            /// Minimum and maximum number of arguments.
            pub fn arity(self) -> (usize, usize) {
                match self { $(Function::$variant => ($min, $max),)* }
            }

            /// Looks up a function name, case-insensitively (4.01).
            pub fn from_name(name: &str) -> Option<Function> {
                $(if name.eq_ignore_ascii_case($name) { return Some(Function::$variant); })*
                None
            }
        }
    };
}

functions! {
    /// `concat(a, b)`.
    Concat = "concat", 2..=2;
    /// `contains(a, b)`.
    Contains = "contains", 2..=2;
    /// `endswith(a, b)`.
    EndsWith = "endswith", 2..=2;
    /// `indexof(a, b)`.
    IndexOf = "indexof", 2..=2;
    /// `length(a)`.
    Length = "length", 1..=1;
    /// `matchesPattern(a, pattern)`.
    MatchesPattern = "matchesPattern", 2..=2;
    /// `startswith(a, b)`.
    StartsWith = "startswith", 2..=2;
    /// `substring(a, start[, length])`.
    Substring = "substring", 2..=3;
    /// `tolower(a)`.
    ToLower = "tolower", 1..=1;
    /// `toupper(a)`.
    ToUpper = "toupper", 1..=1;
    /// `trim(a)`.
    Trim = "trim", 1..=1;
    /// `hassubset(a, b)`.
    HasSubset = "hassubset", 2..=2;
    /// `hassubsequence(a, b)`.
    HasSubsequence = "hassubsequence", 2..=2;
    /// `year(d)`.
    Year = "year", 1..=1;
    /// `month(d)`.
    Month = "month", 1..=1;
    /// `day(d)`.
    Day = "day", 1..=1;
    /// `hour(d)`.
    Hour = "hour", 1..=1;
    /// `minute(d)`.
    Minute = "minute", 1..=1;
    /// `second(d)`.
    Second = "second", 1..=1;
    /// `fractionalseconds(d)`.
    FractionalSeconds = "fractionalseconds", 1..=1;
    /// `totalseconds(duration)`.
    TotalSeconds = "totalseconds", 1..=1;
    /// `date(dt)`.
    Date = "date", 1..=1;
    /// `time(dt)`.
    Time = "time", 1..=1;
    /// `totaloffsetminutes(dt)`.
    TotalOffsetMinutes = "totaloffsetminutes", 1..=1;
    /// `mindatetime()`.
    MinDateTime = "mindatetime", 0..=0;
    /// `maxdatetime()`.
    MaxDateTime = "maxdatetime", 0..=0;
    /// `now()`.
    Now = "now", 0..=0;
    /// `round(n)`.
    Round = "round", 1..=1;
    /// `floor(n)`.
    Floor = "floor", 1..=1;
    /// `ceiling(n)`.
    Ceiling = "ceiling", 1..=1;
    /// `geo.distance(a, b)`.
    GeoDistance = "geo.distance", 2..=2;
    /// `geo.length(a)`.
    GeoLength = "geo.length", 1..=1;
    /// `geo.intersects(a, b)`.
    GeoIntersects = "geo.intersects", 2..=2;
    /// `isdefined(path)` (Data Aggregation extension).
    IsDefined = "isdefined", 1..=1;
}

/// A member path: an optional start (`$it`, `$this`, `$root`, `@alias`)
/// followed by `/`-separated segments.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberPath {
    /// How the path starts.
    pub start: PathStart,
    /// The segments; may be empty only for `$it`/`$this`.
    pub segments: Vec<Segment>,
}

/// The start of a member path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStart {
    /// A plain first segment, relative to the current instance (or a lambda
    /// variable: the parser cannot tell, the binder knows the range variables).
    Relative,
    /// `$it`.
    It,
    /// `$this`.
    This,
    /// `$root/` (the segments then start at an entity set or singleton).
    Root,
    /// `@name/...`: a parameter alias, or an unqualified annotation if no
    /// alias of that name is defined (the binder decides).
    Alias(String),
}

/// A path segment, shared by resource paths and member expressions. The
/// parser admits each kind only where the grammar allows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// What the segment is.
    pub kind: SegmentKind,
    /// Parenthesised groups written directly after it: function parameters
    /// `(x=1)`, key predicates `(1)`, `(ID=1,Code='a')`, or both
    /// (`Fn(x=1)(2)`). Which is which needs the model, so the binder decides.
    pub args: Vec<Args>,
    /// Where it was.
    pub span: Span,
}

/// Kinds of segments.
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentKind {
    /// An identifier or qualified name: entity set, singleton, property,
    /// navigation property, type cast, bound or unbound operation, or a key
    /// written as a segment that happens to look like an identifier.
    Name(QualifiedName),
    /// A segment that is not a name (`/5`, `/O'Neil`, `/-1`): a key as
    /// segment or an ordinal index; the decoded text.
    KeyValue(String),
    /// `@Ns.Term#Qualifier` (an annotation value in an expression or
    /// `$select`/`$expand`).
    Annotation {
        /// The term, qualified or not.
        term: QualifiedName,
        /// The `#qualifier`.
        qualifier: Option<String>,
    },
    /// `$count`, optionally with `($filter=...;$search=...)` in expressions.
    Count(Option<Box<QueryOptions>>),
    /// `$filter(expr)` as a path segment.
    Filter(Box<Expr>),
    /// `$ref`.
    Ref,
    /// `$value`.
    Value,
    /// `$each`.
    Each,
    /// `$query`.
    Query,
    /// `any(...)` / `all(...)`.
    Lambda(Lambda),
    /// `$metadata` (resource paths only, first segment).
    Metadata,
    /// `$batch`.
    Batch,
    /// `$entity`.
    Entity,
    /// `$all`.
    All,
    /// `$crossjoin(A,B)`.
    Crossjoin(Vec<String>),
}

/// `any`/`all` with an optional range variable and predicate.
#[derive(Debug, Clone, PartialEq)]
pub struct Lambda {
    /// `any` or `all`.
    pub kind: LambdaKind,
    /// `var : predicate`; `None` only for `any()`.
    pub body: Option<(String, Box<Expr>)>,
}

/// Which lambda operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LambdaKind {
    /// `any`.
    Any,
    /// `all`.
    All,
}

/// A parenthesised argument group after a segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// The arguments; empty for `()`.
    pub items: Vec<Arg>,
    /// Where the group was, parentheses included.
    pub span: Span,
}

/// One argument: `value` (single key value) or `name=value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// The parameter or key property name, if named.
    pub name: Option<String>,
    /// The value: a literal or alias in resource paths; any expression or
    /// JSON in expressions.
    pub value: Expr,
}

// ----------------------------------------------------------------- Display

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = &self.name {
            write!(f, "{n}=")?;
        }
        write!(f, "{}", self.value)
    }
}

impl fmt::Display for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        join(f, &self.items, ",")?;
        f.write_str(")")
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SegmentKind::Name(n) => write!(f, "{n}")?,
            SegmentKind::KeyValue(v) => f.write_str(v)?,
            SegmentKind::Annotation { term, qualifier } => {
                write!(f, "@{term}")?;
                if let Some(q) = qualifier {
                    write!(f, "#{q}")?;
                }
            }
            SegmentKind::Count(None) => f.write_str("$count")?,
            SegmentKind::Count(Some(o)) => write!(f, "$count({})", o.nested())?,
            SegmentKind::Filter(e) => write!(f, "$filter({e})")?,
            SegmentKind::Ref => f.write_str("$ref")?,
            SegmentKind::Value => f.write_str("$value")?,
            SegmentKind::Each => f.write_str("$each")?,
            SegmentKind::Query => f.write_str("$query")?,
            SegmentKind::Lambda(l) => {
                f.write_str(match l.kind {
                    LambdaKind::Any => "any(",
                    LambdaKind::All => "all(",
                })?;
                if let Some((var, body)) = &l.body {
                    write!(f, "{var}:{body}")?;
                }
                f.write_str(")")?;
            }
            SegmentKind::Metadata => f.write_str("$metadata")?,
            SegmentKind::Batch => f.write_str("$batch")?,
            SegmentKind::Entity => f.write_str("$entity")?,
            SegmentKind::All => f.write_str("$all")?,
            SegmentKind::Crossjoin(sets) => {
                f.write_str("$crossjoin(")?;
                join(f, sets, ",")?;
                f.write_str(")")?;
            }
        }
        for a in &self.args {
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Display for MemberPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        match &self.start {
            PathStart::Relative => {}
            PathStart::It => {
                f.write_str("$it")?;
                first = false;
            }
            PathStart::This => {
                f.write_str("$this")?;
                first = false;
            }
            PathStart::Root => {
                f.write_str("$root")?;
                first = false;
            }
            PathStart::Alias(a) => {
                write!(f, "@{a}")?;
                first = false;
            }
        }
        for s in &self.segments {
            if !first {
                f.write_str("/")?;
            }
            first = false;
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

fn write_json_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl Expr {
    /// How tightly this node binds when printed, for minimal parentheses.
    fn precedence(&self) -> u8 {
        match &self.kind {
            ExprKind::Binary(b) => b.op.precedence(),
            ExprKind::Unary { .. } => UNARY_PRECEDENCE,
            _ => u8::MAX,
        }
    }
}

/// Writes `e`, parenthesised if it binds looser than `min`.
fn write_operand(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if e.precedence() < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl fmt::Display for Expr {
    /// Prints the expression with the fewest parentheses that preserve the
    /// tree's structure under the specification's precedence rules.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Literal(l) => write!(f, "{l}"),
            ExprKind::JsonString(s) => write_json_string(f, s),
            ExprKind::Array(items) => {
                f.write_str("[")?;
                join(f, items, ",")?;
                f.write_str("]")
            }
            ExprKind::Object(members) => {
                f.write_str("{")?;
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_json_string(f, &m.name)?;
                    write!(f, ":{}", m.value)?;
                }
                f.write_str("}")
            }
            ExprKind::List(items) => {
                f.write_str("(")?;
                join(f, items, ",")?;
                f.write_str(")")
            }
            ExprKind::Alias(a) => write!(f, "@{a}"),
            ExprKind::Path(p) => write!(f, "{p}"),
            ExprKind::Unary { op, operand } => {
                match op {
                    UnaryOp::Neg => {
                        f.write_str("-")?;
                        // `-` directly before a digit (or `INF`, or another
                        // `-`) would lex as part of a literal: `-(1)` and
                        // `-(0 in ())` must stay negations.
                        let text = if operand.precedence() < UNARY_PRECEDENCE {
                            format!("({operand})")
                        } else {
                            operand.to_string()
                        };
                        if text.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
                            || text.starts_with("INF")
                        {
                            return write!(f, "({text})");
                        }
                        return f.write_str(&text);
                    }
                    UnaryOp::Not => f.write_str("not ")?,
                }
                write_operand(f, operand, UNARY_PRECEDENCE)
            }
            ExprKind::Binary(b) => {
                let BinaryExpr { op, left, right } = &**b;
                let p = op.precedence();
                write_operand(f, left, p)?;
                write!(f, " {} ", op.as_str())?;
                // Left-associative: a right operand of equal precedence needs
                // parentheses.
                write_operand(f, right, p + 1)
            }
            ExprKind::Call { function, args } => {
                write!(f, "{}(", function.name())?;
                join(f, args, ",")?;
                f.write_str(")")
            }
            ExprKind::TypeCheck {
                kind,
                expr,
                type_name,
            } => {
                f.write_str(match kind {
                    TypeCheckKind::Cast => "cast(",
                    TypeCheckKind::IsOf => "isof(",
                })?;
                if let Some(e) = expr {
                    write!(f, "{e},")?;
                }
                write!(f, "{type_name})")
            }
            ExprKind::Case(arms) => {
                f.write_str("case(")?;
                for (i, arm) in arms.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{}", arm.condition, arm.value)?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for JsonMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_json_string(f, &self.name)?;
        write!(f, ":{}", self.value)
    }
}

/// Re-exported for `Display` of string literals elsewhere.
pub(crate) fn quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    write_quoted(f, s)
}
