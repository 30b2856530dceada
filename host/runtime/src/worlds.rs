//! Typed calls into each world, and the plain Rust types they exchange.
//!
//! Each method checks the plugin serves the right world, runs the call under
//! the plugin's limits (see [`Plugin`]) and returns the plugin's answer or a
//! [`CallError`] naming the plugin.

use crate::bindings;
use crate::error::CallError;
use crate::manifest::World;
use crate::plugin::{Plugin, WorldPre};

pub use bindings::types::{
    Money, PluginError, RateLimitInfo, SpecDocument, SpecFormat, Theme, UsageRecord,
};

/// Types of the `gateway-connector` world.
pub mod connector {
    pub use crate::bindings::connector::exports::portico::plugin::connector::{
        Capability, CredentialRequest, DiscoveredApi, DiscoveryPage, Environment, GatewayInfo,
        KeySource, Limit, Plan, Provisioned, RevokeMode, UsageBatch,
    };
}

/// Types of the `docs-renderer` world.
pub mod renderer {
    pub use crate::bindings::renderer::exports::portico::plugin::renderer::{
        Operation, RenderOptions, Rendered, TocEntry,
    };
}

/// Types of the `analytics-widget` world.
pub mod widget {
    pub use crate::bindings::widget::exports::portico::plugin::widget::{
        Audience, Descriptor, Dimension, Granularity, Metric, Point, RenderRequest, Series,
        UsageQuery,
    };
}

/// Types of the `billing` world.
pub mod billing {
    pub use crate::bindings::billing::exports::portico::plugin::rating::{
        BillingPlan, InvoiceLine, RatingRequest, Tier, UsageLine,
    };
}

/// Types of the `sandbox` world.
pub mod sandbox {
    pub use crate::bindings::sandbox::exports::portico::plugin::sandbox_handler::{
        SandboxRequest, SandboxResponse,
    };
}

/// Wraps a call that cannot fail on the plugin's side into the common shape.
fn infallible<T>(r: wasmtime::Result<T>) -> wasmtime::Result<Result<T, PluginError>> {
    r.map(Ok)
}

/// Checks the world, then runs `$body` on a fresh instance under the plugin's limits.
macro_rules! call_world {
    ($plugin:ident, $variant:ident, $world:expr, $name:literal, |$store:ident, $b:ident| $body:expr) => {{
        let pre = match &$plugin.pre {
            WorldPre::$variant(pre) => pre,
            _ => return Err($plugin.wrong_world($world)),
        };
        $plugin
            .call($name, move |mut $store| {
                Box::pin(async move {
                    let result = async {
                        let $b = pre.instantiate_async(&mut $store).await?;
                        $body
                    }
                    .await;
                    ($store, result)
                })
            })
            .await
    }};
}

impl Plugin {
    /// `gateway-connector`: describes the gateway and checks connectivity.
    pub async fn describe_gateway(&self) -> Result<connector::GatewayInfo, CallError> {
        call_world!(
            self,
            Connector,
            World::GatewayConnector,
            "describe",
            |store, b| b.portico_plugin_connector().call_describe(&mut store).await
        )
    }

    /// `gateway-connector`: lists one page of APIs.
    pub async fn discover(
        &self,
        page: Option<&str>,
    ) -> Result<connector::DiscoveryPage, CallError> {
        call_world!(
            self,
            Connector,
            World::GatewayConnector,
            "discover",
            |store, b| b
                .portico_plugin_connector()
                .call_discover(&mut store, page)
                .await
        )
    }

    /// `gateway-connector`: fetches one API's spec.
    pub async fn fetch_spec(
        &self,
        api_id: &str,
        environment: Option<&str>,
    ) -> Result<Option<SpecDocument>, CallError> {
        call_world!(
            self,
            Connector,
            World::GatewayConnector,
            "fetch-spec",
            |store, b| b
                .portico_plugin_connector()
                .call_fetch_spec(&mut store, api_id, environment)
                .await
        )
    }

    /// `gateway-connector`: creates a credential on the gateway.
    pub async fn provision_credential(
        &self,
        request: &connector::CredentialRequest,
    ) -> Result<connector::Provisioned, CallError> {
        call_world!(
            self,
            Connector,
            World::GatewayConnector,
            "provision-credential",
            |store, b| b
                .portico_plugin_connector()
                .call_provision_credential(&mut store, request)
                .await
        )
    }

    /// `gateway-connector`: disables or deletes a credential.
    pub async fn revoke_credential(
        &self,
        credential_ref: &str,
        mode: connector::RevokeMode,
    ) -> Result<(), CallError> {
        call_world!(
            self,
            Connector,
            World::GatewayConnector,
            "revoke-credential",
            |store, b| b
                .portico_plugin_connector()
                .call_revoke_credential(&mut store, credential_ref, mode)
                .await
        )
    }

    /// `gateway-connector`: pulls usage since a cursor.
    pub async fn collect_usage(
        &self,
        cursor: Option<&str>,
        max_records: u32,
    ) -> Result<connector::UsageBatch, CallError> {
        call_world!(
            self,
            Connector,
            World::GatewayConnector,
            "collect-usage",
            |store, b| b
                .portico_plugin_connector()
                .call_collect_usage(&mut store, cursor, max_records)
                .await
        )
    }

    /// `gateway-connector`: normalises a pushed usage payload.
    pub async fn ingest_usage(
        &self,
        content_type: &str,
        body: &[u8],
    ) -> Result<Vec<UsageRecord>, CallError> {
        call_world!(
            self,
            Connector,
            World::GatewayConnector,
            "ingest-usage",
            |store, b| b
                .portico_plugin_connector()
                .call_ingest_usage(&mut store, content_type, body)
                .await
        )
    }

    /// `docs-renderer`: the spec formats it handles.
    pub async fn renderer_formats(&self) -> Result<Vec<SpecFormat>, CallError> {
        call_world!(
            self,
            Renderer,
            World::DocsRenderer,
            "formats",
            |store, b| infallible(b.portico_plugin_renderer().call_formats(&mut store).await)
        )
    }

    /// `docs-renderer`: renders a spec.
    pub async fn render_docs(
        &self,
        spec: &SpecDocument,
        options: &renderer::RenderOptions,
    ) -> Result<renderer::Rendered, CallError> {
        call_world!(self, Renderer, World::DocsRenderer, "render", |store, b| b
            .portico_plugin_renderer()
            .call_render(&mut store, spec, options)
            .await)
    }

    /// `docs-renderer`: extracts the operation index.
    pub async fn operations(
        &self,
        spec: &SpecDocument,
    ) -> Result<Vec<renderer::Operation>, CallError> {
        call_world!(
            self,
            Renderer,
            World::DocsRenderer,
            "operations",
            |store, b| b
                .portico_plugin_renderer()
                .call_operations(&mut store, spec)
                .await
        )
    }

    /// `analytics-widget`: the widgets it offers.
    pub async fn describe_widgets(&self) -> Result<Vec<widget::Descriptor>, CallError> {
        call_world!(
            self,
            Widget,
            World::AnalyticsWidget,
            "describe",
            |store, b| infallible(b.portico_plugin_widget().call_describe(&mut store).await)
        )
    }

    /// `analytics-widget`: renders one widget.
    pub async fn render_widget(
        &self,
        request: &widget::RenderRequest,
    ) -> Result<String, CallError> {
        call_world!(
            self,
            Widget,
            World::AnalyticsWidget,
            "render",
            |store, b| b
                .portico_plugin_widget()
                .call_render(&mut store, request)
                .await
        )
    }

    /// `billing`: the plans it offers.
    pub async fn billing_plans(&self) -> Result<Vec<billing::BillingPlan>, CallError> {
        call_world!(self, Billing, World::Billing, "plans", |store, b| {
            infallible(b.portico_plugin_rating().call_plans(&mut store).await)
        })
    }

    /// `billing`: prices one app's usage for one period.
    pub async fn rate(
        &self,
        request: &billing::RatingRequest,
    ) -> Result<Vec<billing::InvoiceLine>, CallError> {
        call_world!(self, Billing, World::Billing, "rate", |store, b| b
            .portico_plugin_rating()
            .call_rate(&mut store, request)
            .await)
    }

    /// `sandbox`: handles one call.
    pub async fn sandbox_handle(
        &self,
        request: &sandbox::SandboxRequest,
    ) -> Result<sandbox::SandboxResponse, CallError> {
        call_world!(self, Sandbox, World::Sandbox, "handle", |store, b| b
            .portico_plugin_sandbox_handler()
            .call_handle(&mut store, request)
            .await)
    }

    /// `sandbox`: forgets one developer's state for one API.
    pub async fn sandbox_reset(&self, api: &str, developer_id: &str) -> Result<(), CallError> {
        call_world!(self, Sandbox, World::Sandbox, "reset", |store, b| b
            .portico_plugin_sandbox_handler()
            .call_reset(&mut store, api, developer_id)
            .await)
    }
}
