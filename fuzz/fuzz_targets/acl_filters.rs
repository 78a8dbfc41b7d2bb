//! Kafka's ACL requests through the policy crate's ACL model. Input: `api_key u8 | version i8 |
//! body` (see `schloss_fuzz::requests`) for CreateAcls (30), DescribeAcls (29) or DeleteAcls
//! (31), v1 to v3. Every creation and filter goes through `AclBinding::from_wire` /
//! `AclBindingFilter::from_wire`; every accepted binding must render to Cedar that parses and
//! validates under the schema, alone and as one tenant's set; filters match every accepted
//! binding without panicking.
//!
//! Our bounded decoder does not decode the ACL APIs (the broker does not serve them yet), so
//! the body goes to kafka-protocol's decoder, which reserves a top-level array's count before
//! reading it (DESIGN.md, "Untrusted input"). The target checks that count against the bytes
//! left first; the elements hold only scalars and strings, whose lengths kafka-protocol checks.
#![no_main]

use bytes::Buf;
use kafka_protocol::messages::{ApiKey, CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::Decodable;
use libfuzzer_sys::fuzz_target;
use schloss_fuzz::requests::RequestInput;
use schloss_model::TenantId;
use schloss_policy::{
    render_policy, render_set, AclBinding, AclBindingFilter, Mode, PatternTypeFilter, PolicyStore,
    StoreConfig,
};
use std::sync::OnceLock;

/// A store in mode allow-tenant: `set_managed` validates the sources against the schema (and
/// keeps them without consulting them), with no files to read.
fn validator() -> &'static PolicyStore {
    static STORE: OnceLock<PolicyStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let config = StoreConfig {
            mode: Mode::AllowTenant,
            super_users: Vec::new(),
        };
        PolicyStore::open(config, None).expect("mode allow-tenant always opens")
    })
}

/// Whether the top-level array at the start of `body` claims no more elements than there are
/// bytes after its count (each element takes at least one byte).
fn plausible_array(mut body: &[u8], flexible: bool) -> bool {
    let count = if flexible {
        let mut value: u64 = 0;
        let mut shift = 0;
        loop {
            if !body.has_remaining() || shift > 28 {
                return false;
            }
            let byte = body.get_u8();
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        value.saturating_sub(1)
    } else {
        if body.remaining() < 4 {
            return false;
        }
        u64::try_from(body.get_i32()).unwrap_or(0)
    };
    count <= body.remaining() as u64
}

fn str_of(s: &kafka_protocol::protocol::StrBytes) -> &str {
    s.as_str()
}

fn check_bindings(bindings: &[AclBinding]) {
    let tenant = TenantId::new("acme").expect("a valid tenant name");
    for binding in bindings {
        let text = render_policy(&tenant, binding);
        if let Err(e) = validator().set_managed(vec![("acl:acme".to_owned(), text.clone())]) {
            panic!("{binding} renders to Cedar that does not validate: {e}\n{text}");
        }
    }
    let text = render_set(&tenant, bindings);
    if let Err(e) = validator().set_managed(vec![("acl:acme".to_owned(), text.clone())]) {
        panic!("the set does not validate: {e}\n{text}");
    }
}

/// Filters never panic, and each selects the bindings it was built to select.
fn check_filters(filters: &[AclBindingFilter], bindings: &[AclBinding]) {
    for filter in filters {
        for binding in bindings.iter().chain([fixed_binding()]) {
            let _ = filter.matches(binding);
            assert!(AclBindingFilter::ANY.matches(binding));
        }
    }
    for binding in bindings {
        let exact = AclBindingFilter {
            resource_type: Some(binding.resource_type()),
            pattern_type: PatternTypeFilter::Only(binding.pattern_type()),
            name: Some(binding.name().to_owned()),
            principal: Some(binding.principal().clone()),
            host: Some(*binding.host()),
            operation: Some(binding.operation()),
            permission: Some(binding.permission()),
        };
        assert!(exact.matches(binding), "{binding}");
    }
}

/// A binding for the filters of DescribeAcls and DeleteAcls to match against.
fn fixed_binding() -> &'static AclBinding {
    static BINDING: OnceLock<AclBinding> = OnceLock::new();
    BINDING.get_or_init(|| {
        AclBinding::from_wire(2, "orders", 4, "User:*", "*", 3, 3).expect("a valid binding")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = RequestInput::split(data) else {
        return;
    };
    if !(1..=3).contains(&input.version) {
        return;
    }
    let flexible = input.version >= 2;
    let mut body = input.body.clone();
    match input.api {
        Some(ApiKey::CreateAcls) => {
            if !plausible_array(&input.body, flexible) {
                return;
            }
            let Ok(request) = CreateAclsRequest::decode(&mut body, input.version) else {
                return;
            };
            let bindings: Vec<AclBinding> = request
                .creations
                .iter()
                .filter_map(|c| {
                    AclBinding::from_wire(
                        c.resource_type,
                        str_of(&c.resource_name),
                        c.resource_pattern_type,
                        str_of(&c.principal),
                        str_of(&c.host),
                        c.operation,
                        c.permission_type,
                    )
                    .ok()
                })
                .collect();
            check_bindings(&bindings);
            check_filters(&[], &bindings);
        }
        Some(ApiKey::DescribeAcls) => {
            let Ok(f) = DescribeAclsRequest::decode(&mut body, input.version) else {
                return;
            };
            let filter = AclBindingFilter::from_wire(
                f.resource_type_filter,
                f.resource_name_filter.as_ref().map(str_of),
                f.pattern_type_filter,
                f.principal_filter.as_ref().map(str_of),
                f.host_filter.as_ref().map(str_of),
                f.operation,
                f.permission_type,
            );
            if let Ok(filter) = filter {
                check_filters(&[filter], &[]);
            }
        }
        Some(ApiKey::DeleteAcls) => {
            if !plausible_array(&input.body, flexible) {
                return;
            }
            let Ok(request) = DeleteAclsRequest::decode(&mut body, input.version) else {
                return;
            };
            let filters: Vec<AclBindingFilter> = request
                .filters
                .iter()
                .filter_map(|f| {
                    AclBindingFilter::from_wire(
                        f.resource_type_filter,
                        f.resource_name_filter.as_ref().map(str_of),
                        f.pattern_type_filter,
                        f.principal_filter.as_ref().map(str_of),
                        f.host_filter.as_ref().map(str_of),
                        f.operation,
                        f.permission_type,
                    )
                    .ok()
                })
                .collect();
            check_filters(&filters, &[]);
        }
        _ => {}
    }
});
