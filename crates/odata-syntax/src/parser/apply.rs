//! `$apply` (Data Aggregation Extension): the common transformations.

use super::Parser;
use crate::ast::{AggregateItem, QualifiedName, TopBottomKind, Transformation, TransformationKind};
use crate::error::Result;

impl Parser<'_> {
    /// `applyExpr = applyTrafo *( "/" applyTrafo )`.
    pub(crate) fn apply_pipeline(&mut self) -> Result<Vec<Transformation>> {
        self.nested_weighted(super::query::NESTED_OPTIONS_WEIGHT, |p| {
            let mut out = vec![p.transformation()?];
            while p.peek() == Some(b'/') {
                p.pos += 1;
                out.push(p.transformation()?);
            }
            Ok(out)
        })
    }

    fn open(&mut self) -> Result<()> {
        self.expect(b'(', "'('")?;
        self.ws();
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        self.ws();
        self.expect(b')', "')'")
    }

    fn comma(&mut self) -> Result<bool> {
        let save = self.pos;
        self.ws();
        if self.eat(b',') {
            self.ws();
            Ok(true)
        } else {
            self.pos = save;
            Ok(false)
        }
    }

    fn transformation(&mut self) -> Result<Transformation> {
        self.node()?;
        let start = self.pos;
        let Some(name) = self.qualified_name()? else {
            return Err(self.err("a transformation (aggregate, groupby, filter, ...)"));
        };
        if name.is_qualified() {
            let args = self.arg_group(super::expr::ArgMode::Expr)?;
            return Ok(Transformation {
                kind: TransformationKind::Custom { name, args },
                span: self.span(start),
            });
        }
        let kind = match name.name.as_str() {
            "identity" => TransformationKind::Identity,
            "aggregate" => {
                self.open()?;
                let mut items = vec![self.aggregate_item()?];
                while self.comma()? {
                    items.push(self.aggregate_item()?);
                }
                self.close()?;
                TransformationKind::Aggregate(items)
            }
            "groupby" => {
                self.open()?;
                self.open()?;
                let mut properties = vec![self.expr()?];
                while self.comma()? {
                    properties.push(self.expr()?);
                }
                self.close()?;
                let then = if self.comma()? {
                    Some(self.apply_pipeline()?)
                } else {
                    None
                };
                self.close()?;
                TransformationKind::GroupBy { properties, then }
            }
            "filter" => {
                self.open()?;
                let e = self.expr()?;
                self.close()?;
                TransformationKind::Filter(e)
            }
            "search" => {
                self.open()?;
                let e = self.search_option(super::query::Ctx::Nested)?;
                self.close()?;
                TransformationKind::Search(e)
            }
            "orderby" => {
                self.open()?;
                let mut items = vec![self.orderby_item()?];
                while self.comma()? {
                    items.push(self.orderby_item()?);
                }
                self.close()?;
                TransformationKind::OrderBy(items)
            }
            "top" | "skip" => {
                self.open()?;
                let s = self.pos;
                let rest = self.rest();
                let n = rest.bytes().take_while(u8::is_ascii_digit).count();
                let v: u64 = rest
                    .get(..n)
                    .filter(|d| !d.is_empty())
                    .ok_or_else(|| self.err("a non-negative integer"))?
                    .parse()
                    .map_err(|_| self.invalid_at(s, "number too large"))?;
                self.pos += n;
                self.close()?;
                if name.name == "top" {
                    TransformationKind::Top(v)
                } else {
                    TransformationKind::Skip(v)
                }
            }
            "compute" => {
                self.open()?;
                let mut items = vec![self.compute_item()?];
                while self.comma()? {
                    items.push(self.compute_item()?);
                }
                self.close()?;
                TransformationKind::Compute(items)
            }
            "concat" => {
                self.open()?;
                let mut ps = vec![self.apply_pipeline()?];
                while self.comma()? {
                    ps.push(self.apply_pipeline()?);
                }
                self.close()?;
                if ps.len() < 2 {
                    return Err(self.err_at(start, "concat with at least two pipelines"));
                }
                TransformationKind::Concat(ps)
            }
            other => {
                let kind = match other {
                    "topcount" => TopBottomKind::TopCount,
                    "toppercent" => TopBottomKind::TopPercent,
                    "topsum" => TopBottomKind::TopSum,
                    "bottomcount" => TopBottomKind::BottomCount,
                    "bottompercent" => TopBottomKind::BottomPercent,
                    "bottomsum" => TopBottomKind::BottomSum,
                    _ => {
                        return Err(self.err_at(
                            start,
                            "a supported transformation: aggregate, groupby, filter, search, orderby, top, skip, compute, concat, identity, topcount, ..., or Ns.Function(...)",
                        ))
                    }
                };
                self.open()?;
                let n = self.expr()?;
                if !self.comma()? {
                    return Err(self.err("','"));
                }
                let expr = self.expr()?;
                self.close()?;
                TransformationKind::TopBottom { kind, n, expr }
            }
        };
        Ok(Transformation {
            kind,
            span: self.span(start),
        })
    }

    /// ` word` if the next word (after whitespace) is `kw`.
    fn keyword_after_ws(&mut self, kw: &str) -> bool {
        let save = self.pos;
        if self.ws() > 0 && self.eat_keyword_ci(kw) && self.ws() > 0 {
            return true;
        }
        self.pos = save;
        false
    }

    fn method(&mut self) -> Result<QualifiedName> {
        self.qualified_name()?.ok_or_else(|| {
            self.err("an aggregation method (sum, min, max, average, countdistinct, Ns.Method)")
        })
    }

    fn aggregate_item(&mut self) -> Result<AggregateItem> {
        let expr = if self.eat_str("$count") {
            None
        } else {
            Some(self.expr()?)
        };
        let with = if self.keyword_after_ws("with") {
            Some(self.method()?)
        } else {
            None
        };
        let mut from = Vec::new();
        while self.keyword_after_ws("from") {
            let mut props = vec![self.expr()?];
            while self.comma()? {
                props.push(self.expr()?);
            }
            let w = if self.keyword_after_ws("with") {
                Some(self.method()?)
            } else {
                None
            };
            from.push((props, w));
        }
        let alias = if self.keyword_after_ws("as") {
            Some(self.expect_ident("an alias name")?.to_owned())
        } else {
            None
        };
        if alias.is_none() && (expr.is_none() || with.is_some()) {
            return Err(self.err("' as ' and an alias"));
        }
        Ok(AggregateItem {
            expr,
            with,
            from,
            alias,
        })
    }
}
