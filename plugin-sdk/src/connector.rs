//! The `gateway-connector` plugin kind: one gateway product's management API.
//!
//! A connector discovers the APIs a gateway serves, fetches their specs, pushes
//! portal-issued keys to the gateway and reads usage back.

use core::marker::PhantomData;

use crate::bindings::connector::exports::portico::plugin::connector::Guest;
use crate::{PluginError, SpecDocument, UsageRecord, unsupported};

pub use crate::bindings::connector::exports::portico::plugin::connector::{
    Capability, CredentialRequest, DiscoveredApi, DiscoveryPage, Environment, GatewayInfo,
    KeySource, Limit, Plan, Provisioned, RevokeMode, UsageBatch,
};

/// A gateway connector; export it with [`export_connector!`](crate::export_connector).
///
/// Only [`discover`](Connector::discover) is required. Gateways differ
/// widely: say what yours can do in [`describe`](Connector::describe), and
/// leave the rest to the defaults, which return [`PluginError::Unsupported`].
pub trait Connector {
    /// Describes the gateway and checks that it can be reached with the configured credentials.
    fn describe() -> Result<GatewayInfo, PluginError> {
        Err(unsupported("describe"))
    }

    /// Lists the gateway's APIs, one page at a time, starting with `page` = `None`.
    fn discover(page: Option<String>) -> Result<DiscoveryPage, PluginError>;

    /// Fetches the spec of one API, for one environment where specs differ per stage.
    fn fetch_spec(
        api_id: String,
        environment: Option<String>,
    ) -> Result<Option<SpecDocument>, PluginError> {
        let _ = (api_id, environment);
        Err(unsupported("fetch-spec"))
    }

    /// Creates a credential on the gateway for a portal app.
    fn provision_credential(request: CredentialRequest) -> Result<Provisioned, PluginError> {
        let _ = request;
        Err(unsupported("provision-credential"))
    }

    /// Disables or deletes a credential; one that is already gone counts as revoked.
    fn revoke_credential(credential_ref: String, mode: RevokeMode) -> Result<(), PluginError> {
        let _ = (credential_ref, mode);
        Err(unsupported("revoke-credential"))
    }

    /// Pulls usage recorded since `cursor` (`None`: as far back as the gateway keeps).
    fn collect_usage(cursor: Option<String>, max_records: u32) -> Result<UsageBatch, PluginError> {
        let _ = (cursor, max_records);
        Err(unsupported("collect-usage"))
    }

    /// Normalises a usage payload the gateway pushed to the portal (a log plugin's batch).
    fn ingest_usage(content_type: String, body: Vec<u8>) -> Result<Vec<UsageRecord>, PluginError> {
        let _ = (content_type, body);
        Err(unsupported("ingest-usage"))
    }
}

impl GatewayInfo {
    /// A gateway of `kind` (e.g. `kong`) that can do `capabilities`.
    pub fn new(kind: impl Into<String>, capabilities: Vec<Capability>) -> Self {
        Self {
            kind: kind.into(),
            version: None,
            capabilities,
            key_constraints: None,
        }
    }
}

impl DiscoveredApi {
    /// An API with a gateway id and a machine name, and nothing else known yet.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            title: None,
            description: None,
            version: None,
            version_group: None,
            environments: Vec::new(),
            tags: Vec::new(),
            labels: Vec::new(),
            spec_available: false,
            plan_ids: Vec::new(),
        }
    }
}

impl DiscoveryPage {
    /// The last (or only) page, holding `apis` and no plans.
    pub fn new(apis: Vec<DiscoveredApi>) -> Self {
        Self {
            apis,
            plans: Vec::new(),
            next: None,
        }
    }
}

impl Environment {
    /// An environment called `name` answering at `base_urls`.
    pub fn new(name: impl Into<String>, base_urls: Vec<String>) -> Self {
        Self {
            name: name.into(),
            base_urls,
            revision: None,
        }
    }
}

/// Binds a [`Connector`] to the generated exports.
#[doc(hidden)]
pub struct Export<T>(PhantomData<T>);

impl<T: Connector> Guest for Export<T> {
    fn describe() -> Result<GatewayInfo, PluginError> {
        T::describe()
    }

    fn discover(page: Option<String>) -> Result<DiscoveryPage, PluginError> {
        T::discover(page)
    }

    fn fetch_spec(
        api_id: String,
        environment: Option<String>,
    ) -> Result<Option<SpecDocument>, PluginError> {
        T::fetch_spec(api_id, environment)
    }

    fn provision_credential(request: CredentialRequest) -> Result<Provisioned, PluginError> {
        T::provision_credential(request)
    }

    fn revoke_credential(credential_ref: String, mode: RevokeMode) -> Result<(), PluginError> {
        T::revoke_credential(credential_ref, mode)
    }

    fn collect_usage(cursor: Option<String>, max_records: u32) -> Result<UsageBatch, PluginError> {
        T::collect_usage(cursor, max_records)
    }

    fn ingest_usage(content_type: String, body: Vec<u8>) -> Result<Vec<UsageRecord>, PluginError> {
        T::ingest_usage(content_type, body)
    }
}

/// Exports a [`Connector`] as the plugin's `gateway-connector` world.
///
/// Use it once, in the plugin's `cdylib` crate, next to its `plugin.toml`
/// (which it embeds).
#[macro_export]
macro_rules! export_connector {
    ($ty:ty) => {
        const _: () = {
            type PorticoConnector = $crate::connector::Export<$ty>;
            $crate::__private::connector::export!(
                PorticoConnector with_types_in $crate::__private::connector
            );
        };
        $crate::__embed_sections!();
    };
}
