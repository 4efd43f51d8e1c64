//! XERPIUM's event streams spread over the masters of a Redis Cluster: with
//! the catalog's categories and partitions, no master holds more than half
//! of them, for the default namespace and the usual environment names.

use std::collections::HashMap;

use xerpium_events::Category;
use xerpium_events::messaging::Keys;
use xerpium_events::messaging::testing::RedisCluster;

#[test]
fn no_master_holds_more_than_half_of_the_event_streams() {
    let cluster = RedisCluster::start().expect("the cluster starts");
    for namespace in ["xerpium", "prod", "staging", "test", "dev"] {
        let keys = Keys::new(namespace);
        let streams: Vec<String> = Category::ALL
            .iter()
            .flat_map(|category| keys.event_streams(category.as_str(), &category.layout()))
            .collect();
        let mut per_master: HashMap<u16, usize> = HashMap::new();
        for stream in &streams {
            *per_master
                .entry(cluster.master_for_key(stream).expect("its master"))
                .or_default() += 1;
        }
        let most = per_master.values().copied().max().unwrap_or(0);
        assert_eq!(per_master.len(), 3, "namespace {namespace}: {per_master:?}");
        assert!(
            most * 2 <= streams.len(),
            "namespace {namespace}: {most} of {} streams on one master ({per_master:?})",
            streams.len()
        );
    }
}
