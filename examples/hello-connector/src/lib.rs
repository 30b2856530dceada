//! The tutorial connector: reports one API, named by the config key `greeting_api`,
//! and counts in its key-value store how often it was asked.

use portico_plugin_sdk::connector::{Connector, DiscoveredApi, DiscoveryPage};
use portico_plugin_sdk::{PluginError, config, export_connector, kv, log};

struct Hello;

impl Connector for Hello {
    fn discover(_page: Option<String>) -> Result<DiscoveryPage, PluginError> {
        let name = config::get("greeting_api").unwrap_or_else(|| "hello".to_owned());

        // Instances may be recycled between calls, so the count lives in kv.
        let calls = kv::get_json::<u64>("calls")?.unwrap_or(0) + 1;
        kv::set_json("calls", &calls)?;
        log::info("discovering", &[("api", &name), ("calls", &calls)]);

        let mut api = DiscoveredApi::new(name.clone(), name.clone());
        api.title = Some(name);
        api.description = Some(format!("Discovered {calls} time(s)."));
        Ok(DiscoveryPage::new(vec![api]))
    }
}

export_connector!(Hello);
