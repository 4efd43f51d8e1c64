//! The breaking-change check: one fixture pair per rule under
//! `tests/fixtures/breaking/<rule>/{old,new}.yaml`, compared in both
//! directions, and the pairs of allowed changes. Refresh the expectations
//! after an intended change with `UPDATE_EXPECT=1 cargo test -p xerpium-codegen --test breaking`.

use std::path::{Path, PathBuf};

use expect_test::{Expect, expect};
use xerpium_codegen::breaking::{Rule, Side, compare};

fn fixture(pair: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/breaking")
        .join(pair)
}

fn side(pair: &str, name: &str) -> Side {
    let file = format!("{name}.yaml");
    let path = fixture(pair).join(&file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    Side::read(&file, &text).unwrap_or_else(|diagnostics| panic!("{pair}/{file}:\n{diagnostics}"))
}

/// The changes from `from` to `to` of a fixture pair, one line each: `FILE:LINE: rule: message (at PATH)`.
fn report(pair: &str, from: &str, to: &str) -> String {
    compare(&side(pair, from), &side(pair, to))
        .iter()
        .map(|change| {
            format!(
                "{}:{}: {}: {} (at {})",
                change.file, change.line, change.rule, change.message, change.path
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn check(pair: &str, forward: Expect, backward: Expect) {
    forward.assert_eq(&report(pair, "old", "new"));
    backward.assert_eq(&report(pair, "new", "old"));
}

#[test]
fn every_rule_has_a_fixture_pair_that_breaks_it() {
    for rule in Rule::ALL {
        let changes = compare(&side(rule.name(), "old"), &side(rule.name(), "new"));
        assert!(
            !changes.is_empty() && changes.iter().all(|change| change.rule == rule),
            "{rule}: {changes:#?}"
        );
    }
}

#[test]
fn event_removed() {
    check(
        "event-removed",
        expect!["old.yaml:8: event-removed: `user.deleted` v1 was removed (at categories.user.events.deleted)"],
        expect![[""]],
    );
}

#[test]
fn command_removed() {
    check(
        "command-removed",
        expect!["old.yaml:7: command-removed: command `user.get` was removed (at commands.user.get)"],
        expect![[""]],
    );
}

#[test]
fn field_removed() {
    check(
        "field-removed",
        expect![
            "old.yaml:9: field-removed: required field `email` of `user.created` v1 was removed (it was not marked `deprecated`) (at categories.user.events.created.fields.email)"
        ],
        expect![
            "old.yaml:9: required-field-added: required field `email` (`string`, no default) was added to `user.created` v1 (at categories.user.events.created.fields.email)"
        ],
    );
}

#[test]
fn field_type_changed() {
    check(
        "field-type-changed",
        expect![[r#"
            new.yaml:4: field-type-changed: field `amount` of type `Money` changed type from `decimal` to `f64` (at types.Money.fields.amount)
            new.yaml:12: field-type-changed: field `items` of `order.placed` v1 changed type from `i32` to `i64` (at categories.order.events.placed.fields.items)
            new.yaml:13: field-type-changed: field `total` of `order.placed` v1 changed type from `Money` to `Money?` (at categories.order.events.placed.fields.total)"#]],
        expect![[r#"
            old.yaml:4: field-type-changed: field `amount` of type `Money` changed type from `f64` to `decimal` (at types.Money.fields.amount)
            old.yaml:12: field-type-changed: field `items` of `order.placed` v1 changed type from `i64` to `i32` (at categories.order.events.placed.fields.items)
            old.yaml:13: field-type-changed: field `total` of `order.placed` v1 changed type from `Money?` to `Money` (at categories.order.events.placed.fields.total)"#]],
    );
}

#[test]
fn required_field_added() {
    check(
        "required-field-added",
        expect![[r#"
            new.yaml:9: required-field-added: field `locale` of `user.created` v1 lost its default: it is now required (at categories.user.events.created.fields.locale)
            new.yaml:10: required-field-added: required field `email` (`string`, no default) was added to `user.created` v1 (at categories.user.events.created.fields.email)
            new.yaml:14: required-field-added: required field `tenant` (`string`, no default) was added to the request of command `user.get` (at commands.user.get.request.tenant)"#]],
        expect![[r#"
            new.yaml:10: field-removed: required field `email` of `user.created` v1 was removed (it was not marked `deprecated`) (at categories.user.events.created.fields.email)
            new.yaml:14: field-removed: required field `tenant` of the request of command `user.get` was removed (it was not marked `deprecated`) (at commands.user.get.request.tenant)"#]],
    );
}

#[test]
fn enum_value_removed() {
    check(
        "enum-value-removed",
        expect![[r#"
            old.yaml:3: enum-value-removed: value `manager` of enum `Role` was removed (at enums.Role.1)
            old.yaml:9: enum-value-removed: value `warning` of the notification types was removed (at notifications.types.1)"#]],
        expect![[""]],
    );
}

#[test]
fn subject_changed() {
    check(
        "subject-changed",
        expect![
            "new.yaml:6: subject-changed: the subject of `user.created` v1 changed from `user_id` to `company_id` (at categories.user.events.created.subject)"
        ],
        expect![
            "old.yaml:6: subject-changed: the subject of `user.created` v1 changed from `company_id` to `user_id` (at categories.user.events.created.subject)"
        ],
    );
}

#[test]
fn stream_changed() {
    check(
        "stream-changed",
        expect![[r#"
            new.yaml:9: stream-changed: `user.invited` v1 moved from stream `<ns>:events:user` to `<ns>:events:invitation:<p>` (now `invitation.invited`) (at categories.invitation.events.invited)
            new.yaml:12: stream-changed: command `user.get` moved from `<ns>:commands:user-auth` to `<ns>:commands:user-directory` (at commands.user.get.target)"#]],
        expect![[r#"
            old.yaml:6: stream-changed: `invitation.invited` v1 moved from stream `<ns>:events:invitation:<p>` to `<ns>:events:user` (now `user.invited`) (at categories.user.events.invited)
            old.yaml:9: stream-changed: command `user.get` moved from `<ns>:commands:user-directory` to `<ns>:commands:user-auth` (at commands.user.get.target)"#]],
    );
}

/// From absent (one stream) to 8, from 8 to 16, from 4 to an explicit 1; `audit` going from absent
/// to `partitions: 1` keeps its one stream and passes.
#[test]
fn partitions_changed() {
    check(
        "partitions-changed",
        expect![[r#"
            new.yaml:4: partitions-changed: category `user` goes from `<ns>:events:user` (1 stream) to `<ns>:events:user:<p>` (8 partitions): subjects move to other streams, so groups on the old streams stop seeing new entries and a subject's order across the change is lost (at categories.user.partitions)
            new.yaml:8: partitions-changed: category `company` goes from `<ns>:events:company:<p>` (8 partitions) to `<ns>:events:company:<p>` (16 partitions): subjects move to other streams, so groups on the old streams stop seeing new entries and a subject's order across the change is lost (at categories.company.partitions)
            new.yaml:12: partitions-changed: category `menu` goes from `<ns>:events:menu:<p>` (4 partitions) to `<ns>:events:menu` (1 stream): subjects move to other streams, so groups on the old streams stop seeing new entries and a subject's order across the change is lost (at categories.menu.partitions)"#]],
        expect![[r#"
            new.yaml:4: partitions-changed: category `user` goes from `<ns>:events:user:<p>` (8 partitions) to `<ns>:events:user` (1 stream): subjects move to other streams, so groups on the old streams stop seeing new entries and a subject's order across the change is lost (at categories.user.partitions)
            old.yaml:7: partitions-changed: category `company` goes from `<ns>:events:company:<p>` (16 partitions) to `<ns>:events:company:<p>` (8 partitions): subjects move to other streams, so groups on the old streams stop seeing new entries and a subject's order across the change is lost (at categories.company.partitions)
            old.yaml:11: partitions-changed: category `menu` goes from `<ns>:events:menu` (1 stream) to `<ns>:events:menu:<p>` (4 partitions): subjects move to other streams, so groups on the old streams stop seeing new entries and a subject's order across the change is lost (at categories.menu.partitions)"#]],
    );
    assert!(
        Rule::PartitionsChanged
            .hint()
            .starts_with("drain the old streams before publishers switch"),
        "{}",
        Rule::PartitionsChanged.hint()
    );
}

#[test]
fn version_changed() {
    check(
        "version-changed",
        expect![[r#"
            new.yaml:6: version-changed: `user.created` v1 is gone: `user.created` is now v2 and does not keep v1 under `previous_versions` (at categories.user.events.created.version)
            new.yaml:12: version-changed: the version of command `user.get` changed from 1 to 2 (at commands.user.get.version)"#]],
        expect![[r#"
            old.yaml:5: version-changed: `user.created` v2 is gone: `user.created` is now v1 and does not keep v2 under `previous_versions` (at categories.user.events.created.version)
            old.yaml:9: version-changed: the version of command `user.get` changed from 2 to 1 (at commands.user.get.version)"#]],
    );
}

#[test]
fn wire_name_changed() {
    check(
        "wire-name-changed",
        expect![[r#"
            new.yaml:3: wire-name-changed: value `pro` of enum `Plan` was renamed to `premium` (at enums.Plan.1)
            new.yaml:7: wire-name-changed: field `email` of `user.created` v1 was renamed to `mail` (at categories.user.events.created.fields.mail)
            new.yaml:8: wire-name-changed: `user.removed` v1 was renamed to `user.deleted` (at categories.user.events.deleted)
            new.yaml:10: wire-name-changed: command `user.get` was renamed to `user.find` (at commands.user.find)"#]],
        expect![[r#"
            old.yaml:3: wire-name-changed: value `premium` of enum `Plan` was renamed to `pro` (at enums.Plan.1)
            old.yaml:7: wire-name-changed: field `mail` of `user.created` v1 was renamed to `email` (at categories.user.events.created.fields.email)
            old.yaml:8: wire-name-changed: `user.deleted` v1 was renamed to `user.removed` (at categories.user.events.removed)
            old.yaml:10: wire-name-changed: command `user.find` was renamed to `user.get` (at commands.user.get)"#]],
    );
}

#[test]
fn safe_changes_pass() {
    check(
        "safe",
        expect![[""]],
        expect![[r#"
            new.yaml:19: event-removed: `user.deleted` v1 was removed (at categories.user.events.deleted)
            new.yaml:29: command-removed: command `user.list` was removed (at commands.user.list)
            new.yaml:6: enum-value-removed: value `enterprise` of enum `Plan` was removed (at enums.Plan.2)
            new.yaml:34: enum-value-removed: value `success` of the notification types was removed (at notifications.types.1)"#]],
    );
}

#[test]
fn adding_enum_values_and_notification_types_is_safe_by_rule() {
    // Generated enums are open: a consumer built before `suspended` keeps it (`Status::Unrecognized`).
    let catalog = |values: &str, types: &str| {
        let text = format!(
            "catalog: c\nenums:\n  Status: [{values}]\ncategories:\n  user:\n    events:\n      changed:\n        subject: user_id\n        fields: {{ user_id: uuid, status: Status, previous: list<Status> }}\nnotifications:\n  types: [{types}]\n"
        );
        Side::read("c.yaml", &text).unwrap_or_else(|diagnostics| panic!("{diagnostics}"))
    };
    let old = catalog("active, locked", "info");
    let new = catalog("active, locked, suspended, archived", "info, warning");
    assert_eq!(compare(&old, &new), [], "additions pass");
    let rules: Vec<Rule> = compare(&new, &old).iter().map(|change| change.rule).collect();
    assert_eq!(rules, [Rule::EnumValueRemoved; 3], "removals do not");
}

#[test]
fn a_raised_version_that_keeps_the_old_one_passes() {
    check(
        "versions",
        expect![[""]],
        expect![
            "old.yaml:5: version-changed: `user.created` v2 is gone: `user.created` is now v1 and does not keep v2 under `previous_versions` (at categories.user.events.created.version)"
        ],
    );
}

#[test]
fn deprecated_fields_and_versions_may_go() {
    check(
        "deprecated",
        expect![[""]],
        expect![
            "old.yaml:10: required-field-added: required field `legacy_code` (`string`, no default) was added to `user.created` v3 (at categories.user.events.created.fields.legacy_code)"
        ],
    );
}

#[test]
fn a_catalog_compared_with_itself_has_no_breaking_changes() {
    let everything = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/everything.yaml");
    let text = std::fs::read_to_string(&everything).expect("fixture exists");
    let side = Side::read("everything.yaml", &text).expect("valid fixture");
    assert_eq!(compare(&side, &side), []);
}

/// `xerpium-codegen breaking`: exit status and report, against a file and against a git revision.
#[cfg(feature = "cli")]
mod command_line {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};

    use super::fixture;

    fn run(directory: &Path, arguments: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_xerpium-codegen"))
            .current_dir(directory)
            .args(arguments)
            .output()
            .expect("xerpium-codegen runs")
    }

    fn text(output: &Output) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// A fresh directory under the system's temporary directory.
    fn scratch(name: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let directory = std::env::temp_dir().join(format!("xerpium-breaking-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("temporary directory");
        directory
    }

    #[test]
    fn exits_1_with_file_and_line_against_a_file() {
        let pair = fixture("field-removed");
        let output = run(&pair, &["breaking", "--catalog", "new.yaml", "--against", "old.yaml"]);
        let report = text(&output);
        assert_eq!(output.status.code(), Some(1), "{report}");
        assert!(
            report.starts_with("old.yaml:9: field-removed: required field `email`"),
            "{report}"
        );
        assert!(report.contains("\n  hint: make the field optional"), "{report}");
        assert!(report.ends_with("1 breaking change(s) against old.yaml\n"), "{report}");

        let safe = fixture("safe");
        let output = run(&safe, &["breaking", "--catalog", "new.yaml", "--against", "old.yaml"]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        assert_eq!(text(&output), "no breaking changes against old.yaml\n");
    }

    #[test]
    fn reads_the_older_catalog_from_a_git_revision() {
        let repository = scratch("git");
        let git = |arguments: &[&str]| {
            let status = Command::new("git")
                .current_dir(&repository)
                .args(["-c", "user.name=test", "-c", "user.email=test@example.invalid"])
                .args(arguments)
                .output()
                .expect("git runs");
            assert!(status.status.success(), "git {arguments:?}: {}", text(&status));
        };
        let copy = |from: &str| {
            let source = fixture("subject-changed").join(from);
            std::fs::copy(source, repository.join("events.yaml")).expect("copied");
        };
        git(&["init", "--quiet"]);
        copy("old.yaml");
        git(&["add", "events.yaml"]);
        git(&["commit", "--quiet", "-m", "catalog"]);
        copy("new.yaml");

        let output = run(&repository, &["breaking", "--against", "HEAD"]);
        let report = text(&output);
        assert_eq!(output.status.code(), Some(1), "{report}");
        assert!(report.starts_with("events.yaml:6: subject-changed: "), "{report}");
        assert!(
            report.ends_with("1 breaking change(s) against HEAD:events.yaml\n"),
            "{report}"
        );

        let output = run(&repository, &["breaking", "--against", "no-such-revision"]);
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        std::fs::remove_dir_all(&repository).ok();
    }
}
