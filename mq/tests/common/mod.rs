//! What the tests of `xerpium-mq` share: the binary, run as an operator
//! runs it against a test server.

use std::process::Command;

use xerpium_messaging::Config;
use xerpium_messaging::config::{RedisServers, var};

/// `xerpium-mq` with no `XERPIUM_…` setting of the test's own environment,
/// pointed at `config`'s Redis (a server or a cluster) and namespace.
pub fn xerpium_mq(config: &Config) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xerpium-mq"));
    for (name, _) in std::env::vars() {
        if name.starts_with("XERPIUM_") {
            command.env_remove(name);
        }
    }
    match config.redis() {
        RedisServers::Standalone(url) => command.env(var::REDIS_URL, url),
        RedisServers::Cluster(nodes) => command.env(var::REDIS_CLUSTER_NODES, nodes.join(",")),
    };
    command.env(var::NAMESPACE, config.namespace());
    command
}
