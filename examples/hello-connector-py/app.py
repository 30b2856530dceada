"""The tutorial gateway connector in Python: it reports one API, named by the
config key `greeting_api`, and counts in its key-value store how often it was
asked. The same behaviour as examples/hello-connector (Rust).

Built with componentize-py against Portico's WIT (see README.md)."""

from typing import Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import connector
from wit_world.imports import host
from wit_world.imports.portico_plugin_types import PluginError_Unsupported


def unsupported(what: str) -> Err:
    return Err(PluginError_Unsupported(f"hello-connector-py does not implement {what}"))


def count_call() -> int:
    stored = host.kv_get("calls")
    count = int(stored.decode()) + 1 if stored else 1
    host.kv_set("calls", str(count).encode())
    return count


class Connector(exports.Connector):
    def describe(self) -> connector.GatewayInfo:
        return connector.GatewayInfo(
            kind="hello-py",
            version=None,
            capabilities=[connector.Capability.DISCOVER],
            key_constraints=None,
        )

    def discover(self, page: Optional[str]) -> connector.DiscoveryPage:
        name = host.config_get("greeting_api") or "hello"
        count = count_call()
        host.log(host.LogLevel.INFO, "discovering", [("api", name), ("calls", str(count))])
        api = connector.DiscoveredApi(
            id=name,
            name=name,
            title=name,
            description=f"Discovered {count} time(s).",
            version=None,
            version_group=None,
            environments=[],
            tags=["python"],
            labels=[],
            spec_available=False,
            plan_ids=[],
        )
        return connector.DiscoveryPage(apis=[api], plans=[], next=None)

    def fetch_spec(self, api_id: str, environment: Optional[str]):
        return None

    def provision_credential(self, request):
        raise unsupported("provision-credential")

    def revoke_credential(self, credential_ref, mode):
        raise unsupported("revoke-credential")

    def collect_usage(self, cursor, max_records):
        raise unsupported("collect-usage")

    def ingest_usage(self, content_type, body):
        raise unsupported("ingest-usage")
