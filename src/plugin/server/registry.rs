//! What the provider serves, by type name: one generic table per kind (resources, data sources,
//! list resources, actions), each entry with its implementation, schema and decoded cty type.

use std::collections::HashMap;
use std::sync::Arc;

use crate::plugin::diagnostics::{Diagnostic, Diagnostics};
use crate::plugin::schema::Schema;
use crate::plugin::traits::{Action, DataSource, ListResource, Provider, Resource};
use crate::plugin::value::Type;

/// One served type: the implementation, its schema (built once per process) and the schema's type.
pub(super) struct Entry<T: ?Sized> {
    pub imp: Arc<T>,
    pub schema: Schema,
    pub ty: Type,
}

/// The entries of one kind, by type name.
pub(super) struct Table<T: ?Sized> {
    /// How Terraform's users call this kind ("resource", "data source", ...), for diagnostics.
    kind: &'static str,
    entries: HashMap<&'static str, Entry<T>>,
}

impl<T: ?Sized> Table<T> {
    fn new(kind: &'static str, items: Vec<Arc<T>>, declare: impl Fn(&T) -> (&'static str, Schema)) -> Self {
        let entries = items
            .into_iter()
            .map(|imp| {
                let (name, schema) = declare(&imp);
                let ty = schema.cty();
                (name, Entry { imp, schema, ty })
            })
            .collect();
        Table { kind, entries }
    }

    /// The entry for `name`, or the diagnostic Terraform shows for a type this provider lacks.
    pub fn get(&self, name: &str) -> Result<&Entry<T>, Diagnostics> {
        self.entries.get(name).ok_or_else(|| {
            let kind = self.kind;
            Diagnostic::error(format!("Unknown {kind} type"), format!("This provider has no {kind} {name:?}.")).into()
        })
    }

    /// Every (type name, entry).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Entry<T>)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Every type name.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.entries.keys().map(|k| (*k).to_string())
    }
}

/// Everything one provider serves.
pub(super) struct Registry<C> {
    pub resources: Table<dyn Resource<C>>,
    pub data_sources: Table<dyn DataSource<C>>,
    pub lists: Table<dyn ListResource<C>>,
    pub actions: Table<dyn Action<C>>,
}

impl<C: Send + Sync + 'static> Registry<C> {
    /// The tables from the provider's declarations.
    pub fn of<P: Provider<Context = C>>(provider: &P) -> Self {
        Registry {
            resources: Table::new("resource", provider.resources(), |r| (r.type_name(), r.schema())),
            data_sources: Table::new("data source", provider.data_sources(), |d| (d.type_name(), d.schema())),
            lists: Table::new("list resource", provider.list_resources(), |l| (l.type_name(), l.schema())),
            actions: Table::new("action", provider.actions(), |a| (a.type_name(), a.schema())),
        }
    }
}
