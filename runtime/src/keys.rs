//! Redis key names. Every key starts with the configured namespace, so two
//! environments sharing one Redis never see each other's keys.
//!
//! | key | what |
//! |---|---|
//! | `<ns>:events:<category>` | the event stream of one category |
//! | `<ns>:events:<category>:<p>` | partition `p` of a partitioned (ordered) category |
//! | `<ns>:partition:<group>:<stream>` | the lease of the group's instance that reads one partition |
//! | `<ns>:members:<group>` | the live instances of a group reading partitions (sorted set, expiry as score) |
//! | `<ns>:dlq:<group>` | dead letters of one consumer group |
//! | `<ns>:commands:<service>` | the command stream served by one service |
//! | `<ns>:replies:<client>` | the reply stream of one command client |
//! | `<ns>:notify:<channel>` | a notification Pub/Sub channel |
//! | `<ns>:health:<service>` | health heartbeats of one service |
//! | `<ns>:health:<service>:<instance>` | the latest heartbeat of one instance (expires when it stops beating) |
//! | `<ns>:health` | the health stream: every heartbeat, for history |
//! | `<ns>:handled:<group>:<event id>` | idempotency marker of one handled event |

use crate::event::StreamLayout;

/// Builds the Redis keys of one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Keys {
    namespace: String,
}

impl Keys {
    /// Keys under `namespace` (e.g. `prod`, `staging`).
    pub fn new(namespace: impl Into<String>) -> Self {
        Keys {
            namespace: namespace.into(),
        }
    }

    /// The namespace every key starts with.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// `<ns>:events:<category>`: the event stream of `category`.
    pub fn events(&self, category: &str) -> String {
        self.key(&["events", category])
    }

    /// The streams of `category` laid out as `layout`: `<ns>:events:<category>`
    /// when it has one partition, else `<ns>:events:<category>:<p>` for each
    /// partition `p`, in order.
    pub fn event_streams(&self, category: &str, layout: &StreamLayout) -> Vec<String> {
        if layout.is_partitioned() {
            (0..layout.partitions)
                .map(|p| self.key(&["events", category, &p.to_string()]))
                .collect()
        } else {
            vec![self.events(category)]
        }
    }

    /// The stream an event of `category` with subject `subject` is written
    /// to: its partition's stream in a partitioned category (see
    /// [`StreamLayout::partition_of`]), else the category's stream.
    pub fn event_stream(&self, category: &str, layout: &StreamLayout, subject: &str) -> String {
        if layout.is_partitioned() {
            let partition = layout.partition_of(subject).to_string();
            self.key(&["events", category, &partition])
        } else {
            self.events(category)
        }
    }

    /// `<ns>:partition:<group>:<stream>`: the lease held by the instance of
    /// `group` that reads the partition stream `stream` (a full key).
    pub fn partition_lease(&self, group: &str, stream: &str) -> String {
        self.key(&["partition", group, stream])
    }

    /// `<ns>:members:<group>`: the live instances of `group` that share
    /// partitions.
    pub fn members(&self, group: &str) -> String {
        self.key(&["members", group])
    }

    /// `<ns>:dlq:<group>`: the dead-letter stream of consumer group `group`.
    pub fn dead_letters(&self, group: &str) -> String {
        self.key(&["dlq", group])
    }

    /// `<ns>:commands:<service>`: the command stream served by `service`.
    pub fn commands(&self, service: &str) -> String {
        self.key(&["commands", service])
    }

    /// `<ns>:replies:<client>`: the reply stream of one command client.
    pub fn replies(&self, client: &str) -> String {
        self.key(&["replies", client])
    }

    /// `<ns>:notify:<channel>`: a notification channel.
    pub fn notify(&self, channel: &str) -> String {
        self.key(&["notify", channel])
    }

    /// `<ns>:health:<service>`: health heartbeats of `service`.
    pub fn health(&self, service: &str) -> String {
        self.key(&["health", service])
    }

    /// `<ns>:health:<service>:<instance>`: the latest heartbeat of one
    /// instance of `service`, kept with a TTL so that it vanishes when the
    /// instance stops beating.
    pub fn health_instance(&self, service: &str, instance: &str) -> String {
        self.key(&["health", service, instance])
    }

    /// `<ns>:health`: the health stream, every heartbeat of every instance.
    pub fn health_stream(&self) -> String {
        self.key(&["health"])
    }

    /// `<ns>:handled:<group>:<event id>`: marks `event_id` as handled by `group`.
    pub fn handled(&self, group: &str, event_id: &str) -> String {
        self.key(&["handled", group, event_id])
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = String::with_capacity(self.namespace.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>());
        key.push_str(&self.namespace);
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced() {
        let keys = Keys::new("prod");
        assert_eq!(keys.events("user"), "prod:events:user");
        assert_eq!(keys.dead_letters("audit"), "prod:dlq:audit");
        assert_eq!(keys.commands("company-partner"), "prod:commands:company-partner");
        assert_eq!(keys.replies("ui-1"), "prod:replies:ui-1");
        assert_eq!(keys.notify("user:42"), "prod:notify:user:42");
        assert_eq!(keys.health("audit"), "prod:health:audit");
        assert_eq!(keys.handled("audit", "0190"), "prod:handled:audit:0190");
        assert_eq!(keys.health_instance("audit", "h-0"), "prod:health:audit:h-0");
        assert_eq!(keys.health_stream(), "prod:health");
        assert_ne!(Keys::new("staging").events("user"), keys.events("user"));
        let ordered = StreamLayout {
            partitions: 4,
            ..StreamLayout::DEFAULT
        };
        assert_eq!(keys.event_streams("user", &StreamLayout::DEFAULT), ["prod:events:user"]);
        assert_eq!(keys.event_streams("user", &ordered)[3], "prod:events:user:3");
        let p = ordered.partition_of("u-1");
        assert_eq!(
            keys.event_stream("user", &ordered, "u-1"),
            format!("prod:events:user:{p}")
        );
        assert_eq!(
            keys.event_stream("user", &StreamLayout::DEFAULT, "u-1"),
            "prod:events:user"
        );
        assert_eq!(
            keys.partition_lease("audit", "prod:events:user:3"),
            "prod:partition:audit:prod:events:user:3"
        );
    }
}
