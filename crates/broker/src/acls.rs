//! ACLs created through Kafka's ACL APIs live in the metadata log (per tenant) and take effect as
//! the policy store's broker-managed set: one Cedar source per tenant, `acl:<tenant>`, rendered
//! from its bindings (docs/authorization.md, "Kafka ACLs on Cedar").

use crate::metadata::Image;
use schloss_model::TenantId;
use schloss_policy::{render_set, AclBinding, PolicyError, PolicyStore};
use std::collections::{BTreeMap, BTreeSet};

/// The managed set for `acls`: a source per tenant with ACLs.
pub(crate) fn sources(acls: &BTreeMap<String, BTreeSet<AclBinding>>) -> Vec<(String, String)> {
    acls.iter()
        .filter_map(|(tenant, bindings)| {
            // Only tenants a principal could belong to were ever written; anything else would
            // name nobody.
            let tenant = TenantId::new(tenant).ok()?;
            let bindings: Vec<AclBinding> = bindings.iter().cloned().collect();
            Some((format!("acl:{tenant}"), render_set(&tenant, &bindings)))
        })
        .collect()
}

/// Makes the store's managed set the image's ACLs.
pub(crate) fn sync(store: &PolicyStore, image: &Image) -> Result<(), PolicyError> {
    store.set_managed(sources(&image.acls)).map(|_| ())
}
