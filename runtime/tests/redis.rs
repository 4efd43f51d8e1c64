//! Tests against a real `redis-server` (one per test, started by
//! `xerpium_messaging::testing`). Run with `--features testing`.

mod redis {
    mod support;

    mod child;
    mod cluster;
    mod cluster_harness;
    mod commands;
    mod consume;
    mod engine;
    mod failures;
    mod health;
    mod logs;
    mod notifications;
    mod observe;
    mod publish;
    mod soak;
    #[cfg(feature = "otel")]
    mod traces;
}
