//! Bound requests: the resource a URL addresses and the query options that
//! shape the answer, resolved against one service's model.

use crate::bind::expr::BoundExpr;
use crate::edm::EntitySetId;

/// A single entity, addressed by key or reached through to-one navigation.
#[derive(Debug, Clone, PartialEq)]
pub enum EntityRef {
    /// `Accounts(1)`.
    Key {
        /// The entity set.
        set: EntitySetId,
        /// The key value (ZeyOS IDs are integers).
        key: i64,
    },
    /// `Accounts(1)/Transactions(5)`: a member of a to-many navigation,
    /// which must belong to the parent.
    Contained {
        /// The parent entity.
        parent: Box<EntityRef>,
        /// The child's ZeyOS field holding the parent's ID.
        field: String,
        /// The child's entity set.
        set: EntitySetId,
        /// The child's key.
        key: i64,
    },
    /// `Transactions(5)/Account`: the target of a foreign key of another
    /// entity.
    Navigation {
        /// The entity that holds the foreign key.
        parent: Box<EntityRef>,
        /// The ZeyOS foreign key field on the parent, e.g. `account`.
        field: String,
        /// The navigation property's name, for messages.
        name: String,
        /// The target entity set.
        set: EntitySetId,
    },
}

impl EntityRef {
    /// The entity set the referenced entity belongs to.
    pub fn set(&self) -> EntitySetId {
        match self {
            EntityRef::Key { set, .. }
            | EntityRef::Contained { set, .. }
            | EntityRef::Navigation { set, .. } => *set,
        }
    }
}

/// A collection: an entity set, or the to-many navigation of an entity.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionRef {
    /// The entity set its members belong to.
    pub set: EntitySetId,
    /// `Accounts(1)/Transactions`: the parent and the child's ZeyOS field
    /// holding the parent's ID.
    pub parent: Option<(EntityRef, String)>,
}

/// What a URL addresses.
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    /// The service document.
    ServiceDocument,
    /// `$metadata`.
    Metadata,
    /// A collection of entities.
    Collection(CollectionRef),
    /// The number of entities of a collection (`/$count`).
    Count(CollectionRef),
    /// One entity.
    Entity(EntityRef),
    /// References to a collection's entities (`Accounts(1)/Transactions/$ref`):
    /// their ids in place of the entities (Protocol 11.2.8).
    CollectionReferences(CollectionRef),
    /// A reference to one entity (`Transactions(5)/Account/$ref`).
    EntityReference(EntityRef),
    /// A structural property of an entity, its raw value (`/$value`) or,
    /// for a collection-valued property, its number of items (`/$count`).
    Property {
        /// The entity.
        entity: EntityRef,
        /// Index of the property in the entity type.
        property: usize,
        /// Which of the three the URL asks for.
        form: PropertyForm,
    },
}

/// How a property is addressed: the three answers differ in media type
/// and in what they may be applied to, so the path binder settles it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyForm {
    /// The property in OData JSON (`Accounts(1)/Name`).
    Value,
    /// Its raw value as text (`Accounts(1)/Name/$value`); primitives only.
    Raw,
    /// The number of items of a collection-valued property
    /// (`Transactions(1)/Items/$count`, OData 4.01 URL Conventions 4.8).
    Count,
}

/// One `$orderby` item.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    /// The sort expression.
    pub expr: BoundExpr,
    /// `desc`.
    pub descending: bool,
}

/// `$expand` of one navigation property, with its own options.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandItem {
    /// The navigation property's name.
    pub navigation: String,
    /// The target entity set.
    pub set: EntitySetId,
    /// To-many or to-one.
    pub collection: bool,
    /// For to-one: the parent's foreign key field; for to-many: the child's
    /// field holding the parent's ID.
    pub field: String,
    /// Whether the entities, their references or only their number are
    /// written.
    pub form: ExpandForm,
    /// The nested options.
    pub options: Box<QueryShape>,
}

/// What an expanded navigation property writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpandForm {
    /// `Nav`: the related entities.
    Entities,
    /// `Nav/$ref`: entity references (`{"@odata.id": ...}`) in place of
    /// the entities; the nested options ask for the key alone.
    References,
    /// `Nav/$count`: only the number of related entities passing the
    /// nested `$filter`/`$search` (`Nav@odata.count`); the nested options
    /// ask for no properties.
    Count,
}

/// The query options that shape a collection or entity answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryShape {
    /// `$filter`.
    pub filter: Option<BoundExpr>,
    /// `$search`, as ZeyOS `query` text.
    pub search: Option<String>,
    /// `$orderby`.
    pub orderby: Vec<OrderItem>,
    /// `$select`: property indexes; `None` selects all.
    pub select: Option<Vec<usize>>,
    /// Dynamic (extdata) properties named in `$select` on an open type.
    pub dynamic: Vec<String>,
    /// Navigation properties named in `$select` (which selects their
    /// links); the context URL lists them.
    pub selected_navigation: Vec<String>,
    /// `$expand`.
    pub expand: Vec<ExpandItem>,
    /// `$top`.
    pub top: Option<u64>,
    /// `$skip`.
    pub skip: Option<u64>,
    /// `$count=true`.
    pub count: bool,
}

/// A bound request.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundRequest {
    /// What the URL addresses.
    pub resource: Resource,
    /// The query options.
    pub shape: QueryShape,
    /// `$skiptoken`, still opaque.
    pub skiptoken: Option<String>,
    /// `$format`, for negotiation.
    pub format: Option<String>,
}
