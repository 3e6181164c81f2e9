//! The names an expression refers to (`local.x`, `var.y`, `data.…`), found by walking the parsed
//! expression, and the one rewrite the converter makes: `count.index` → `each.value` in the
//! `id` of an import block that iterates `range(count)`.

use std::ops::Range;

use hcl_edit::expr::{Expression, ForExpr, Traversal, TraversalOperator};
use hcl_edit::template::ForTemplateExpr;
use hcl_edit::visit::{self, Visit};
use hcl_edit::visit_mut::{self, VisitMut};
use hcl_edit::{Decorated, Ident, Span};

/// What a reference names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ref {
    /// `local.<name>`
    Local(String),
    /// `var.<name>`
    Var(String),
    /// Anything else the converted configuration may not have: `data.…`, `module.…`, a
    /// resource, `path.…`, `terraform.workspace` (the text of the reference's first two parts).
    Other(String),
}

/// A reference and where it is.
#[derive(Debug, Clone)]
pub struct Found {
    pub what: Ref,
    pub span: Option<Range<usize>>,
}

/// Every reference in `expr`, except to `each`, `count` and the variables of `for` expressions.
pub fn collect(expr: &Expression) -> Vec<Found> {
    let mut c = Collector::default();
    c.visit_expr(expr);
    c.found
}

#[derive(Default)]
struct Collector {
    found: Vec<Found>,
    /// Names bound by the enclosing `for` expressions.
    bound: Vec<String>,
}

impl Collector {
    fn root(&mut self, root: &Decorated<Ident>, first: Option<&str>, span: Option<Range<usize>>) {
        let name = root.as_str();
        if matches!(name, "each" | "count") || self.bound.iter().any(|b| b == name) {
            return;
        }
        let what = match (name, first) {
            ("local", Some(n)) => Ref::Local(n.to_string()),
            ("var", Some(n)) => Ref::Var(n.to_string()),
            (_, Some(n)) => Ref::Other(format!("{name}.{n}")),
            (_, None) => Ref::Other(name.to_string()),
        };
        self.found.push(Found { what, span });
    }

    fn scoped(&mut self, names: impl IntoIterator<Item = String>, f: impl FnOnce(&mut Self)) {
        let before = self.bound.len();
        self.bound.extend(names);
        f(self);
        self.bound.truncate(before);
    }
}

impl Visit for Collector {
    fn visit_expr(&mut self, expr: &Expression) {
        if let Expression::Variable(v) = expr {
            self.root(v, None, v.span());
        } else {
            visit::visit_expr(self, expr);
        }
    }

    fn visit_traversal(&mut self, t: &Traversal) {
        if let Expression::Variable(root) = &t.expr {
            let first = match t.operators.first().map(|o| o.value()) {
                Some(TraversalOperator::GetAttr(a)) => Some(a.as_str()),
                _ => None,
            };
            self.root(root, first, t.span());
            for op in &t.operators {
                self.visit_traversal_operator(op);
            }
        } else {
            visit::visit_traversal(self, t);
        }
    }

    fn visit_for_expr(&mut self, e: &ForExpr) {
        // the collection is evaluated outside the loop's names
        self.visit_expr(&e.intro.collection_expr);
        let names = e.intro.key_var.iter().chain([&e.intro.value_var]).map(|v| v.as_str().to_string());
        self.scoped(names.collect::<Vec<_>>(), |c| {
            if let Some(k) = &e.key_expr {
                c.visit_expr(k);
            }
            c.visit_expr(&e.value_expr);
            if let Some(cond) = &e.cond {
                c.visit_expr(&cond.expr);
            }
        });
    }

    fn visit_for_template_expr(&mut self, e: &ForTemplateExpr) {
        self.visit_expr(&e.collection_expr);
        let names = e.key_var.iter().chain([&e.value_var]).map(|v| v.as_str().to_string());
        self.scoped(names.collect::<Vec<_>>(), |c| c.visit_template(&e.template));
    }
}

/// Rewrites `count.index` to `each.value` everywhere in `expr` (an import block iterating
/// `range(<count>)` has the index as each element's value).
pub fn count_to_each(expr: &mut Expression) {
    struct Rewrite;
    impl VisitMut for Rewrite {
        fn visit_traversal_mut(&mut self, t: &mut Traversal) {
            let is_count = matches!(&t.expr, Expression::Variable(v) if v.as_str() == "count");
            let is_index = matches!(t.operators.first().map(|o| o.value()), Some(TraversalOperator::GetAttr(a)) if a.as_str() == "index");
            if is_count && is_index {
                t.expr = Expression::Variable(Decorated::new(Ident::new("each")));
                t.operators[0] = Decorated::new(TraversalOperator::GetAttr(Decorated::new(Ident::new("value"))));
            }
            visit_mut::visit_traversal_mut(self, t);
        }
    }
    Rewrite.visit_expr_mut(expr);
}
