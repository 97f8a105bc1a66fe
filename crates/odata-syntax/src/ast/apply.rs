//! `$apply` transformations (OData Data Aggregation Extension 4.0).

use std::fmt;

use super::{join, Args, ComputeItem, Expr, OrderByItem, QualifiedName, SearchExpr, Span};

/// One transformation of an `$apply` pipeline (`t1/t2/...`).
#[derive(Debug, Clone, PartialEq)]
pub struct Transformation {
    /// Which transformation.
    pub kind: TransformationKind,
    /// Where it was in the decoded option value.
    pub span: Span,
}

/// The transformations the parser understands.
#[derive(Debug, Clone, PartialEq)]
pub enum TransformationKind {
    /// `aggregate(a with sum as Total, $count as N)`.
    Aggregate(Vec<AggregateItem>),
    /// `groupby((P1,P2)[,pipeline])`.
    GroupBy {
        /// The grouping properties (member paths) or `rollup(...)` elements.
        properties: Vec<Expr>,
        /// The pipeline applied to each group.
        then: Option<Vec<Transformation>>,
    },
    /// `filter(expr)`.
    Filter(Expr),
    /// `search(expr)`.
    Search(SearchExpr),
    /// `orderby(items)`.
    OrderBy(Vec<OrderByItem>),
    /// `top(n)`.
    Top(u64),
    /// `skip(n)`.
    Skip(u64),
    /// `compute(expr as Name, ...)`.
    Compute(Vec<ComputeItem>),
    /// `concat(pipeline, pipeline, ...)`.
    Concat(Vec<Vec<Transformation>>),
    /// `identity`.
    Identity,
    /// `topcount(n, expr)` and the other top/bottom transformations.
    TopBottom {
        /// Which one.
        kind: TopBottomKind,
        /// The first argument (count, percentage or sum).
        n: Expr,
        /// The value expression.
        expr: Expr,
    },
    /// `Ns.Function(params)`: a custom set-valued function.
    Custom {
        /// The qualified function name.
        name: QualifiedName,
        /// Its parameters.
        args: Args,
    },
}

/// `topcount`, `toppercent`, `topsum`, `bottomcount`, `bottompercent`,
/// `bottomsum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopBottomKind {
    /// `topcount`.
    TopCount,
    /// `toppercent`.
    TopPercent,
    /// `topsum`.
    TopSum,
    /// `bottomcount`.
    BottomCount,
    /// `bottompercent`.
    BottomPercent,
    /// `bottomsum`.
    BottomSum,
}

impl TopBottomKind {
    /// Its keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            TopBottomKind::TopCount => "topcount",
            TopBottomKind::TopPercent => "toppercent",
            TopBottomKind::TopSum => "topsum",
            TopBottomKind::BottomCount => "bottomcount",
            TopBottomKind::BottomPercent => "bottompercent",
            TopBottomKind::BottomSum => "bottomsum",
        }
    }
}

/// One item of `aggregate(...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateItem {
    /// The aggregated expression; `None` for `$count`.
    pub expr: Option<Expr>,
    /// `with method`: `sum`, `min`, `max`, `average`, `countdistinct` or a
    /// qualified custom method. `None` for `$count` or a custom aggregate.
    pub with: Option<QualifiedName>,
    /// `from` grouping properties, outermost first.
    pub from: Vec<(Vec<Expr>, Option<QualifiedName>)>,
    /// The `as` alias (optional only for custom aggregates).
    pub alias: Option<String>,
}

impl fmt::Display for AggregateItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.expr {
            Some(e) => write!(f, "{e}")?,
            None => f.write_str("$count")?,
        }
        if let Some(w) = &self.with {
            write!(f, " with {w}")?;
        }
        for (props, with) in &self.from {
            f.write_str(" from ")?;
            join(f, props, ",")?;
            if let Some(w) = with {
                write!(f, " with {w}")?;
            }
        }
        if let Some(a) = &self.alias {
            write!(f, " as {a}")?;
        }
        Ok(())
    }
}

struct Pipeline<'a>(&'a [Transformation]);
impl fmt::Display for Pipeline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        join(f, self.0, "/")
    }
}

impl fmt::Display for Transformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TransformationKind::Aggregate(items) => {
                f.write_str("aggregate(")?;
                join(f, items, ",")?;
                f.write_str(")")
            }
            TransformationKind::GroupBy { properties, then } => {
                f.write_str("groupby((")?;
                join(f, properties, ",")?;
                f.write_str(")")?;
                if let Some(t) = then {
                    write!(f, ",{}", Pipeline(t))?;
                }
                f.write_str(")")
            }
            TransformationKind::Filter(e) => write!(f, "filter({e})"),
            TransformationKind::Search(e) => write!(f, "search({e})"),
            TransformationKind::OrderBy(items) => {
                f.write_str("orderby(")?;
                join(f, items, ",")?;
                f.write_str(")")
            }
            TransformationKind::Top(n) => write!(f, "top({n})"),
            TransformationKind::Skip(n) => write!(f, "skip({n})"),
            TransformationKind::Compute(items) => {
                f.write_str("compute(")?;
                join(f, items, ",")?;
                f.write_str(")")
            }
            TransformationKind::Concat(ps) => {
                f.write_str("concat(")?;
                for (i, p) in ps.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}", Pipeline(p))?;
                }
                f.write_str(")")
            }
            TransformationKind::Identity => f.write_str("identity"),
            TransformationKind::TopBottom { kind, n, expr } => {
                write!(f, "{}({n},{expr})", kind.as_str())
            }
            TransformationKind::Custom { name, args } => write!(f, "{name}{args}"),
        }
    }
}
