//! The filters of DescribeAcls and DeleteAcls, and which bindings they select.

use super::types::filter_code;
use super::{
    AclBinding, AclError, AclHost, AclOperation, AclPermission, AclPrincipal, AclResourceType,
    PatternType,
};

/// A filter's pattern type: Kafka's ANY and MATCH besides the two of a binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatternTypeFilter {
    /// Any pattern type; a name must then equal the binding's name.
    Any,
    /// The bindings that would apply to a resource with the filter's name: LITERAL bindings
    /// of that name or of `*`, and PREFIXED bindings whose name is a prefix of it.
    Match,
    Only(PatternType),
}

/// Kafka's `AclBindingFilter`: every field `None` (or [`PatternTypeFilter::Any`]) is ANY.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AclBindingFilter {
    pub resource_type: Option<AclResourceType>,
    pub pattern_type: PatternTypeFilter,
    pub name: Option<String>,
    pub principal: Option<AclPrincipal>,
    pub host: Option<AclHost>,
    pub operation: Option<AclOperation>,
    pub permission: Option<AclPermission>,
}

impl AclBindingFilter {
    /// The filter that selects every binding.
    pub const ANY: AclBindingFilter = AclBindingFilter {
        resource_type: None,
        pattern_type: PatternTypeFilter::Any,
        name: None,
        principal: None,
        host: None,
        operation: None,
        permission: None,
    };

    /// A filter from the raw fields of a DescribeAcls request or a DeleteAcls filter. Kafka
    /// refuses a filter with an UNKNOWN element (`AclControlManager.validateFilter`), as this
    /// does (codes Kafka does not define are UNKNOWN to Kafka). Kafka would accept, and match
    /// nothing with, a principal of another type than `User` or a host that is not an address;
    /// no stored binding can have those, and they are refused here as malformed.
    pub fn from_wire(
        resource_type: i8,
        name: Option<&str>,
        pattern_type: i8,
        principal: Option<&str>,
        host: Option<&str>,
        operation: i8,
        permission: i8,
    ) -> Result<Self, AclError> {
        let pattern_type = match pattern_type {
            1 => PatternTypeFilter::Any,
            2 => PatternTypeFilter::Match,
            code => PatternTypeFilter::Only(PatternType::from_code(code)?),
        };
        Ok(Self {
            resource_type: filter_code(resource_type, "resource type", |code| {
                AclResourceType::from_code(code)
            })?,
            pattern_type,
            name: name.map(str::to_owned),
            principal: principal.map(str::parse).transpose()?,
            host: host.map(str::parse).transpose()?,
            operation: filter_code(operation, "operation", AclOperation::from_code)?,
            permission: filter_code(permission, "permission type", AclPermission::from_code)?,
        })
    }

    /// Whether the filter selects `binding`, exactly as Kafka's `AclBindingFilter.matches`:
    /// `ResourcePatternFilter.matches` on the pattern and `AccessControlEntryFilter.matches` on
    /// the entry (clients/src/main/java/org/apache/kafka/common/{resource,acl}).
    pub fn matches(&self, binding: &AclBinding) -> bool {
        self.matches_pattern(binding) && self.matches_entry(binding)
    }

    fn matches_pattern(&self, binding: &AclBinding) -> bool {
        if self
            .resource_type
            .is_some_and(|t| t != binding.resource_type())
        {
            return false;
        }
        if let PatternTypeFilter::Only(p) = self.pattern_type {
            if p != binding.pattern_type() {
                return false;
            }
        }
        let Some(name) = &self.name else {
            return true;
        };
        match self.pattern_type {
            // ANY, or the binding's own pattern type: the names must be equal.
            PatternTypeFilter::Any | PatternTypeFilter::Only(_) => name == binding.name(),
            PatternTypeFilter::Match => match binding.pattern_type() {
                PatternType::Literal => name == binding.name() || binding.name() == "*",
                PatternType::Prefixed => name.starts_with(binding.name()),
            },
        }
    }

    fn matches_entry(&self, binding: &AclBinding) -> bool {
        self.principal
            .as_ref()
            .is_none_or(|p| p == binding.principal())
            && self.host.as_ref().is_none_or(|h| h == binding.host())
            && self.operation.is_none_or(|o| o == binding.operation())
            && self.permission.is_none_or(|p| p == binding.permission())
    }
}
