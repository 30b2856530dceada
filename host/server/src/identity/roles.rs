//! Roles and permissions as data: named permission strings, the built-in
//! roles (admin, api-owner, developer, viewer, and anonymous for visitors),
//! and custom roles from `[auth.roles.<name>]`.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::AuthSettings;

/// Read the catalogue: entities, APIs, their pages, specs and locations.
pub const CATALOG_READ: &str = "catalog.read";
/// See the organisation's own entities: those marked `internal`, and every
/// `partner` one. Whoever lacks it sees public entities and the partner
/// entities granted to their groups.
pub const CATALOG_READ_INTERNAL: &str = "catalog.read-internal";
/// Register and delete catalogue locations.
pub const CATALOG_WRITE: &str = "catalog.write";
/// See the installed plugins, their grants and health.
pub const PLUGINS_READ: &str = "plugins.read";
/// Install, upgrade, remove, enable and disable plugins.
pub const PLUGINS_MANAGE: &str = "plugins.manage";
/// Read and export the audit log.
pub const AUDIT_READ: &str = "audit.read";
/// Manage accounts, groups and role assignments.
pub const USERS_MANAGE: &str = "users.manage";
/// Scrape `/metrics`.
pub const METRICS_READ: &str = "metrics.read";
/// See the gateways and their sync runs.
pub const GATEWAYS_READ: &str = "gateways.read";
/// Sync a gateway on demand.
pub const GATEWAYS_SYNC: &str = "gateways.sync";

/// Create apps, subscribe them to plans and manage their API keys.
pub const APPS_USE: &str = "apps.use";
/// Define products and plans, and decide subscriptions to the products one owns
/// (admins: to every product).
pub const PRODUCTS_MANAGE: &str = "products.manage";

/// Provision accounts and groups over SCIM. Held by the `[auth.scim]`
/// token's actor only: it is not in [`PERMISSIONS`], so no role grants it.
pub const SCIM_PROVISION: &str = "scim.provision";

/// Every permission a role can grant.
pub const PERMISSIONS: &[&str] = &[
    CATALOG_READ,
    CATALOG_READ_INTERNAL,
    CATALOG_WRITE,
    PLUGINS_READ,
    PLUGINS_MANAGE,
    AUDIT_READ,
    USERS_MANAGE,
    METRICS_READ,
    GATEWAYS_READ,
    GATEWAYS_SYNC,
    APPS_USE,
    PRODUCTS_MANAGE,
];

/// Everything.
pub const ADMIN: &str = "admin";
/// Publishes APIs: reads everything in the catalogue, registers locations and
/// follows gateway syncs.
pub const API_OWNER: &str = "api-owner";
/// Consumes APIs: reads the catalogue.
pub const DEVELOPER: &str = "developer";
/// Reads the catalogue and sees the plugins; changes nothing.
pub const VIEWER: &str = "viewer";
/// Someone from a partner organisation: reads public entities and the
/// partner entities granted to their groups.
pub const PARTNER: &str = "partner";
/// Whoever is not signed in.
pub const ANONYMOUS: &str = "anonymous";

/// The roles that exist without configuration.
pub const BUILTIN_ROLES: &[&str] = &[ADMIN, API_OWNER, DEVELOPER, VIEWER, PARTNER, ANONYMOUS];

/// Every role's permissions: the built-in ones and the configured ones.
#[derive(Debug, Clone)]
pub struct Roles {
    by_name: BTreeMap<String, BTreeSet<String>>,
}

impl Roles {
    /// The built-in roles, and the custom ones of `[auth.roles]` (checked by
    /// [`AuthSettings::check`]).
    pub fn new(settings: &AuthSettings) -> Roles {
        let set = |perms: &[&str]| perms.iter().map(|p| (*p).to_owned()).collect();
        let mut by_name: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        by_name.insert(ADMIN.into(), set(PERMISSIONS));
        by_name.insert(
            API_OWNER.into(),
            set(&[
                CATALOG_READ,
                CATALOG_READ_INTERNAL,
                CATALOG_WRITE,
                PLUGINS_READ,
                GATEWAYS_READ,
                APPS_USE,
                PRODUCTS_MANAGE,
            ]),
        );
        by_name.insert(
            DEVELOPER.into(),
            set(&[CATALOG_READ, CATALOG_READ_INTERNAL, APPS_USE]),
        );
        by_name.insert(
            VIEWER.into(),
            set(&[CATALOG_READ, CATALOG_READ_INTERNAL, PLUGINS_READ]),
        );
        by_name.insert(PARTNER.into(), set(&[CATALOG_READ, APPS_USE]));
        let anonymous: &[&str] = if settings.public_catalog {
            &[CATALOG_READ]
        } else {
            &[]
        };
        by_name.insert(ANONYMOUS.into(), set(anonymous));
        for (name, role) in &settings.roles {
            by_name.insert(name.clone(), role.permissions.iter().cloned().collect());
        }
        Roles { by_name }
    }

    /// Whether a role of this name exists.
    pub fn exists(&self, role: &str) -> bool {
        self.by_name.contains_key(role)
    }

    /// The role names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// The permissions of these roles together; unknown roles grant nothing.
    pub fn permissions<'a>(&self, roles: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        roles
            .into_iter()
            .filter_map(|r| self.by_name.get(r))
            .flatten()
            .cloned()
            .collect()
    }

    /// The permissions of one role, as stored in the `roles` table.
    pub fn of(&self, role: &str) -> Option<&BTreeSet<String>> {
        self.by_name.get(role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RoleSettings;

    #[test]
    fn built_in_roles_grant_what_their_names_promise() {
        let roles = Roles::new(&AuthSettings::default());
        let admin = roles.permissions([ADMIN]);
        assert!(PERMISSIONS.iter().all(|p| admin.contains(*p)));
        assert!(roles.permissions([API_OWNER]).contains(CATALOG_WRITE));
        assert!(!roles.permissions([DEVELOPER]).contains(PLUGINS_READ));
        assert!(!roles.permissions([VIEWER]).contains(CATALOG_WRITE));
        assert_eq!(
            roles.permissions([PARTNER]),
            BTreeSet::from([CATALOG_READ.to_owned(), APPS_USE.to_owned()])
        );
        assert!(roles.permissions([DEVELOPER]).contains(APPS_USE));
        assert!(!roles.permissions([DEVELOPER]).contains(PRODUCTS_MANAGE));
        assert!(roles.permissions([API_OWNER]).contains(PRODUCTS_MANAGE));
        assert!(!roles.permissions([VIEWER]).contains(APPS_USE));
        assert_eq!(
            roles.permissions([ANONYMOUS]),
            BTreeSet::from([CATALOG_READ.to_owned()])
        );
        assert!(roles.permissions(["no-such-role"]).is_empty());
    }

    #[test]
    fn a_private_catalogue_grants_visitors_nothing_and_custom_roles_add_up() {
        let mut settings = AuthSettings {
            public_catalog: false,
            ..AuthSettings::default()
        };
        settings.roles.insert(
            "auditor".into(),
            RoleSettings {
                permissions: vec![AUDIT_READ.into()],
            },
        );
        let roles = Roles::new(&settings);
        assert!(roles.permissions([ANONYMOUS]).is_empty());
        let both = roles.permissions([DEVELOPER, "auditor"]);
        assert!(both.contains(AUDIT_READ) && both.contains(CATALOG_READ));
        assert!(roles.exists("auditor"));
    }
}
