//! The schema model: attributes, nested attributes and blocks, as resource code declares them.
//!
//! A [`Schema`] knows its cty [`Type`] (what the codec decodes with) and converts itself to the
//! protocol's `Schema` message. Builders keep declarations short and readable.

use std::collections::BTreeMap;

use super::proto::tfplugin6 as pb;
use super::value::Type;

/// How a nested block or nested attribute repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// One object, null when absent.
    Single,
    /// A list of objects.
    List,
    /// A set of objects.
    Set,
    /// A map of objects.
    Map,
    /// Blocks only: one object, never null (its attributes are null when absent).
    Group,
}

/// The type of an attribute: a plain cty type, or nested attributes.
#[derive(Clone, Debug)]
pub enum AttrType {
    /// A cty type.
    Plain(Type),
    /// Nested attributes (protocol 6 `nested_type`).
    Nested(Nesting, Vec<Attribute>),
}

/// One attribute of a block.
#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub ty: AttrType,
    pub description: String,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub write_only: bool,
    pub deprecated: bool,
    /// A change of this attribute forces replacement (used by the plan helper).
    pub force_new: bool,
}

impl Attribute {
    fn new(name: &str, ty: AttrType, description: &str) -> Self {
        Attribute {
            name: name.to_string(),
            ty,
            description: description.to_string(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            deprecated: false,
            force_new: false,
        }
    }
    /// A required attribute.
    pub fn required(name: &str, ty: Type, description: &str) -> Self {
        Attribute { required: true, ..Self::new(name, AttrType::Plain(ty), description) }
    }
    /// An optional attribute.
    pub fn optional(name: &str, ty: Type, description: &str) -> Self {
        Attribute { optional: true, ..Self::new(name, AttrType::Plain(ty), description) }
    }
    /// A computed (read-only) attribute.
    pub fn computed(name: &str, ty: Type, description: &str) -> Self {
        Attribute { computed: true, ..Self::new(name, AttrType::Plain(ty), description) }
    }
    /// An optional attribute the provider fills in when the configuration leaves it null.
    pub fn optional_computed(name: &str, ty: Type, description: &str) -> Self {
        Attribute { optional: true, computed: true, ..Self::new(name, AttrType::Plain(ty), description) }
    }
    /// Nested attributes with the given nesting.
    pub fn nested(name: &str, nesting: Nesting, attrs: Vec<Attribute>, description: &str) -> Self {
        Attribute { optional: true, ..Self::new(name, AttrType::Nested(nesting, attrs), description) }
    }
    /// Marks the attribute sensitive.
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    /// Marks the attribute write-only (never stored in state).
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }
    /// Marks the attribute deprecated.
    pub fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }
    /// A change forces replacement.
    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }

    /// The cty type of this attribute's value.
    pub fn cty(&self) -> Type {
        match &self.ty {
            AttrType::Plain(t) => t.clone(),
            AttrType::Nested(n, attrs) => {
                let obj = Type::Object(attrs.iter().map(|a| (a.name.clone(), a.cty())).collect());
                wrap(*n, obj)
            }
        }
    }

    fn to_proto(&self) -> pb::schema::Attribute {
        let (ty, nested) = match &self.ty {
            AttrType::Plain(t) => (t.to_json().to_string().into_bytes(), None),
            AttrType::Nested(n, attrs) => (
                Vec::new(),
                Some(pb::schema::Object {
                    attributes: attrs.iter().map(Attribute::to_proto).collect(),
                    nesting: object_nesting(*n) as i32,
                    ..Default::default()
                }),
            ),
        };
        pb::schema::Attribute {
            name: self.name.clone(),
            r#type: ty,
            nested_type: nested,
            description: self.description.clone(),
            description_kind: pb::StringKind::Markdown as i32,
            required: self.required,
            optional: self.optional,
            computed: self.computed,
            sensitive: self.sensitive,
            deprecated: self.deprecated,
            write_only: self.write_only,
        }
    }
}

/// A nested block.
#[derive(Clone, Debug)]
pub struct NestedBlock {
    pub name: String,
    pub nesting: Nesting,
    pub block: Block,
    pub min_items: i64,
    pub max_items: i64,
}

impl NestedBlock {
    /// A block that appears at most once.
    pub fn single(name: &str, block: Block) -> Self {
        NestedBlock { name: name.to_string(), nesting: Nesting::Single, block, min_items: 0, max_items: 0 }
    }
    /// A block that may repeat, kept in order.
    pub fn list(name: &str, block: Block) -> Self {
        NestedBlock { name: name.to_string(), nesting: Nesting::List, block, min_items: 0, max_items: 0 }
    }
    /// A block that may repeat, unordered.
    pub fn set(name: &str, block: Block) -> Self {
        NestedBlock { name: name.to_string(), nesting: Nesting::Set, block, min_items: 0, max_items: 0 }
    }
    /// The cty type of this block's value. As in Terraform, a list or map of blocks that holds a
    /// `dynamic` attribute is itself `dynamic` (its elements may differ in type).
    pub fn cty(&self) -> Type {
        let obj = self.block.cty();
        if matches!(self.nesting, Nesting::List | Nesting::Map) && obj.has_dynamic() {
            return Type::Dynamic;
        }
        wrap(self.nesting, obj)
    }
}

fn wrap(n: Nesting, obj: Type) -> Type {
    match n {
        Nesting::Single | Nesting::Group => obj,
        Nesting::List => Type::list(obj),
        Nesting::Set => Type::set(obj),
        Nesting::Map => Type::map(obj),
    }
}

fn object_nesting(n: Nesting) -> pb::schema::object::NestingMode {
    use pb::schema::object::NestingMode as M;
    match n {
        Nesting::Single | Nesting::Group => M::Single,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
    }
}

fn block_nesting(n: Nesting) -> pb::schema::nested_block::NestingMode {
    use pb::schema::nested_block::NestingMode as M;
    match n {
        Nesting::Single => M::Single,
        Nesting::Group => M::Group,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
    }
}

/// A block: attributes and nested blocks.
#[derive(Clone, Debug, Default)]
pub struct Block {
    pub description: String,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub deprecated: bool,
}

impl Block {
    /// A block with the given description.
    pub fn new(description: &str) -> Self {
        Block { description: description.to_string(), ..Default::default() }
    }
    /// Adds an attribute.
    pub fn attr(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }
    /// Adds a nested block.
    pub fn block(mut self, b: NestedBlock) -> Self {
        self.blocks.push(b);
        self
    }
    /// The object type of this block.
    pub fn cty(&self) -> Type {
        let mut f: BTreeMap<String, Type> = self.attributes.iter().map(|a| (a.name.clone(), a.cty())).collect();
        for b in &self.blocks {
            f.insert(b.name.clone(), b.cty());
        }
        Type::Object(f)
    }
    /// Finds an attribute by name.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
    fn to_proto(&self) -> pb::schema::Block {
        pb::schema::Block {
            version: 0,
            attributes: self.attributes.iter().map(Attribute::to_proto).collect(),
            block_types: self
                .blocks
                .iter()
                .map(|b| pb::schema::NestedBlock {
                    type_name: b.name.clone(),
                    block: Some(b.block.to_proto()),
                    nesting: block_nesting(b.nesting) as i32,
                    min_items: b.min_items,
                    max_items: b.max_items,
                })
                .collect(),
            description: self.description.clone(),
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: self.deprecated,
        }
    }
}

/// A versioned schema of a provider, resource or data source.
#[derive(Clone, Debug)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

impl Schema {
    /// A schema at the given version.
    pub fn new(version: i64, block: Block) -> Self {
        Schema { version, block }
    }
    /// The object type values of this schema have.
    pub fn cty(&self) -> Type {
        self.block.cty()
    }
    /// The protocol message.
    pub fn to_proto(&self) -> pb::Schema {
        pb::Schema { version: self.version, block: Some(self.block.to_proto()) }
    }
}

/// The identity schema of a resource (protocol 6.9).
#[derive(Clone, Debug)]
pub struct IdentitySchema {
    pub version: i64,
    /// (name, type, description, required_for_import)
    pub attributes: Vec<(String, Type, String, bool)>,
}

impl IdentitySchema {
    /// The object type of identity values.
    pub fn cty(&self) -> Type {
        Type::Object(self.attributes.iter().map(|(n, t, _, _)| (n.clone(), t.clone())).collect())
    }
    /// The protocol message.
    pub fn to_proto(&self) -> pb::ResourceIdentitySchema {
        pb::ResourceIdentitySchema {
            version: self.version,
            identity_attributes: self
                .attributes
                .iter()
                .map(|(n, t, d, req)| pb::resource_identity_schema::IdentityAttribute {
                    name: n.clone(),
                    r#type: t.to_json().to_string().into_bytes(),
                    required_for_import: *req,
                    optional_for_import: !*req,
                    description: d.clone(),
                })
                .collect(),
        }
    }
}

/// The `timeouts { create, update, delete }` block resources share.
pub fn timeouts_block(ops: &[&str]) -> NestedBlock {
    let mut b = Block::new("How long each operation may take, as a duration such as `30m` or `1h30m`.");
    for op in ops {
        b = b.attr(Attribute::optional(op, Type::String, &format!("Time limit for {op}.")));
    }
    NestedBlock::single("timeouts", b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_type_includes_nested_blocks_and_attributes() {
        let s = Block::new("x")
            .attr(Attribute::required("a", Type::String, ""))
            .attr(Attribute::nested("n", Nesting::List, vec![Attribute::optional("k", Type::Bool, "")], ""))
            .block(NestedBlock::single("b", Block::new("").attr(Attribute::optional("c", Type::Number, ""))))
            .block(NestedBlock::set("s", Block::new("")));
        let t = s.cty();
        assert_eq!(
            t,
            Type::object([
                ("a", Type::String),
                ("n", Type::list(Type::object([("k", Type::Bool)]))),
                ("b", Type::object([("c", Type::Number)])),
                ("s", Type::set(Type::Object(Default::default()))),
            ])
        );
        let p = s.to_proto();
        assert_eq!(p.attributes[0].r#type, b"\"string\"");
        assert_eq!(p.attributes[1].nested_type.as_ref().unwrap().nesting, pb::schema::object::NestingMode::List as i32);
        assert_eq!(p.block_types[1].nesting, pb::schema::nested_block::NestingMode::Set as i32);
    }
}
