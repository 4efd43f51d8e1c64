//! One catalog per diagnostic, each asserting the exact message with file,
//! line and column, the catalog path and the hint.

use xerpium_codegen::check_catalog_text;

/// Checks `catalog` and returns what `xerpium-codegen validate` prints.
fn diagnose(catalog: &str) -> String {
    match check_catalog_text("catalog.yaml", catalog) {
        Ok(_) => panic!("the catalog should be rejected:\n{catalog}"),
        Err(diagnostics) => diagnostics.to_string(),
    }
}

#[test]
fn case() {
    let catalog = r#"catalog: x
types:
  money_type: { fields: { a: string } }
categories:
  User:
    events:
      loggedIn:
        subject: userId
        fields:
          userId: uuid
"#;
    let expected = r#"catalog.yaml:3:3: error: type name `money_type` is not PascalCase
  at: types.money_type
  hint: write `MoneyType`
catalog.yaml:5:3: error: category name `User` is not snake_case
  at: categories.User
  hint: write `user`
catalog.yaml:7:7: error: event name `loggedIn` is not snake_case
  at: categories.User.events.loggedIn
  hint: write `logged_in`
catalog.yaml:10:11: error: field name `userId` is not snake_case
  at: categories.User.events.loggedIn.fields.userId
  hint: write `user_id`
4 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn collide() {
    let catalog = r#"catalog: x
types:
  UserCreated: { fields: { a: string } }
enums:
  Level: [a_1, a1]
categories:
  user:
    events:
      created: { subject: id, fields: { id: uuid } }
"#;
    let expected = r#"catalog.yaml:5:16: error: enum values `a_1` and `a1` of `Level` both become `A1` in Rust
  at: enums.Level.1
  hint: remove or rename one
catalog.yaml:9:7: error: event `user.created` becomes the Rust type `UserCreated`, which is already type `UserCreated`
  at: categories.user.events.created
  hint: rename one of them
2 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn command() {
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created: { subject: id, fields: { id: uuid } }
commands:
  company.get:
    timeout: 5s
"#;
    let expected = r#"catalog.yaml:7:3: error: command `company.get` has no `target`
  at: commands.company.get
  hint: name the service that serves it, e.g. `target: company-partner`
catalog.yaml:7:3: error: command `company.get` has no `request`
  at: commands.company.get
  hint: list the request's fields, e.g. `request: { company_id: uuid }` (or `request: {}`)
catalog.yaml:7:3: error: command `company.get` has no `response`
  at: commands.company.get
  hint: list the response's fields, e.g. `response: { company: Company? }` (or `response: {}`)
3 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn default() {
    let catalog = r#"catalog: x
enums:
  Role: [admin]
categories:
  user:
    events:
      created:
        subject: id
        fields:
          id: uuid
          n: { type: i32, default: "five" }
          r: { type: Role, default: admn }
          d: { type: decimal, default: 1.5 }
"#;
    let expected = r#"catalog.yaml:11:36: error: default `five` is not of type `i32`
  at: categories.user.events.created.fields.n.default
catalog.yaml:12:37: error: default `admn` is not a value of `Role`; did you mean `admin`?
  at: categories.user.events.created.fields.r.default
catalog.yaml:13:40: error: default `1.5` is not of type `decimal`; write a decimal default as a string (`"1.5"`) so it stays exact
  at: categories.user.events.created.fields.d.default
3 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn dups() {
    let catalog = r#"catalog: x
types:
  Money: { fields: { a: string } }
  Money: { fields: { a: string } }
enums:
  Role: [a, b, a]
categories:
  user:
    events:
      created:
        subject: id
        fields:
          id: uuid
          id: string
      created:
        subject: id
        fields: { id: uuid }
  user:
    events:
      x: { subject: id, fields: { id: uuid } }
"#;
    let expected = r#"catalog.yaml:4:3: error: duplicate type `Money`
  at: types.Money
  hint: the first `Money` is at line 3; rename or remove one
catalog.yaml:6:16: error: duplicate value `a` in enum `Role`
  at: enums.Role.2
  hint: remove or rename one
catalog.yaml:14:11: error: duplicate field `id`
  at: categories.user.events.created.fields.id
  hint: the first `id` is at line 13; rename or remove one
catalog.yaml:15:7: error: duplicate event `created`
  at: categories.user.events.created
  hint: the first `created` is at line 10; rename or remove one
catalog.yaml:18:3: error: duplicate category `user`
  at: categories.user
  hint: the first `user` is at line 8; rename or remove one
5 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn empty() {
    let catalog = r#"# nothing here
"#;
    let expected = r#"catalog.yaml:1:1: error: the catalog is empty
  hint: start with `catalog: <name>` and a `categories:` map; see the README's catalog reference
1 error"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn nocats() {
    let catalog = r#"catalog: x
"#;
    let expected = r#"catalog.yaml:1:1: error: the catalog defines no events
  at: categories
  hint: add a category with events under `categories:`; see the README's catalog reference
1 error"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn pii() {
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created:
        subject: id
        fields:
          id: uuid
          email: { type: string, pii: maybe }
"#;
    let expected = r#"catalog.yaml:9:39: error: invalid type: string "maybe", expected a boolean
  at: categories.user.events.created.fields.email.pii
  hint: write `true` or `false` here
1 error"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn recursive() {
    let catalog = r#"catalog: x
types:
  Node:
    fields:
      parent: Node?
  A:
    fields:
      b: B
  B:
    fields:
      a: A
categories:
  user:
    events:
      created: { subject: id, fields: { id: uuid } }
"#;
    let expected = r#"catalog.yaml:5:7: error: type `Node` contains itself through Node.parent
  at: types.Node.fields.parent
  hint: put a `list<…>` or `map<…>` between; `?` alone does not end the recursion
catalog.yaml:8:7: error: type `A` contains itself through A.b → B.a
  at: types.A.fields.b
  hint: put a `list<…>` or `map<…>` between; `?` alone does not end the recursion
catalog.yaml:11:7: error: type `B` contains itself through B.a → A.b
  at: types.B.fields.a
  hint: put a `list<…>` or `map<…>` between; `?` alone does not end the recursion
3 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn subject() {
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created:
        subject: user_idd
        fields:
          user_id: uuid
      updated:
        subject: tags
        fields:
          tags: list<string>
      deleted:
        fields:
          user_id: uuid
"#;
    let expected = r#"catalog.yaml:6:18: error: subject `user_idd` names no field of `user.created`
  at: categories.user.events.created.subject
  hint: did you mean `user_id`?
catalog.yaml:10:18: error: subject `tags` is a `list<string>`; a subject must be a required string, uuid, integer or enum
  at: categories.user.events.updated.subject
catalog.yaml:13:7: error: event `user.deleted` has no `subject`
  at: categories.user.events.deleted
  hint: add `subject: user_id`
3 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn tabs() {
    let catalog = r#"catalog: x
categories:
	user: {}
"#;
    let expected = r#"catalog.yaml:3:1: error: invalid YAML: tabs disallowed within this context (block indentation)
  hint: YAML indents with spaces only; replace the tab with spaces
1 error"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn types() {
    let catalog = r#"catalog: x
enums:
  UserRole: [admin]
categories:
  user:
    events:
      created:
        subject: id
        fields:
          id: uuid
          name: strng
          role: Userrole
          tags: list<string
          scores: map<uuid, i32>
"#;
    let expected = r#"catalog.yaml:11:17: error: unknown type `strng`
  at: categories.user.events.created.fields.name
  hint: did you mean `string`?
catalog.yaml:12:17: error: unknown type `Userrole`
  at: categories.user.events.created.fields.role
  hint: did you mean `UserRole`?
catalog.yaml:13:17: error: malformed type: `<` in type `list<string` is not closed
  at: categories.user.events.created.fields.tags
  hint: add the closing `>`: `list<string>`
catalog.yaml:14:19: error: malformed type: `map<uuid, i32>` has more than one type between `<` and `>`
  at: categories.user.events.created.fields.scores
  hint: `map<T>` takes only the value type: map keys are always strings
4 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn unclosed() {
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created:
        subject: id
        fields: { id: uuid, roles: [a, b }
"#;
    let expected = r#"catalog.yaml:7:42: error: invalid YAML: while parsing a flow sequence, expected ',' or ']'
  hint: a `[` or `{` is not closed, or its items are not separated by commas
1 error"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn unknown_key() {
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created:
        subject: id
        feilds:
          id: uuid
"#;
    let expected = r#"catalog.yaml:7:9: error: unknown key `feilds`
  at: categories.user.events.created.feilds
  hint: did you mean `fields`?
1 error"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn version() {
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created:
        version: 0
        subject: id
        fields: { id: uuid }
"#;
    let expected = r#"catalog.yaml:6:18: error: version 0 is not a positive integer
  at: categories.user.events.created.version
  hint: versions start at 1
1 error"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn missing_file() {
    let diagnostics = xerpium_codegen::check_catalog(std::path::Path::new("no/such/events.yaml")).expect_err("no file");
    let expected = "no/such/events.yaml: error: cannot read the catalog: No such file or directory (os error 2)
  hint: pass the catalog with `--catalog FILE`; the default is `events.yaml` in the current directory
1 error";
    assert_eq!(diagnostics.to_string(), expected);
}

#[test]
fn unreadable_file() {
    let dir = std::env::temp_dir().join(format!("xerpium-codegen-unreadable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("events.yaml");
    std::fs::write(&path, [0xff, 0xfe, b'a']).expect("written");
    let diagnostics = xerpium_codegen::check_catalog(&path).expect_err("not UTF-8");
    let rendered = diagnostics.to_string();
    std::fs::remove_dir_all(&dir).expect("removed");
    assert!(
        rendered.contains("error: cannot read the catalog: stream did not contain valid UTF-8"),
        "{rendered}"
    );
    assert!(
        rendered.contains("hint: check that the file is readable and is UTF-8 text"),
        "{rendered}"
    );
}

#[test]
fn wrong_yaml_type_for_a_version() {
    let catalog = "catalog: x\ncategories:\n  user:\n    events:\n      created:\n        version: one\n        subject: id\n        fields: { id: uuid }\n";
    let expected = "catalog.yaml:6:18: error: invalid type: string \"one\", expected i64
  at: categories.user.events.created.version
  hint: write i64 here
1 error";
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn comma_in_an_unquoted_flow_value() {
    let catalog = "catalog: x\ncategories:\n  user:\n    events:\n      created:\n        subject: id\n        fields:\n          id: { type: uuid, description: The id, e.g. `a`, `b`. }\n";
    let expected = "catalog.yaml:8:60: error: invalid YAML: unexpected character: ``'
  hint: inside `{ … }` a comma ends a value: put text that contains commas in quotes
1 error";
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn previous_versions() {
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created:
        version: 2
        subject: id
        fields: { id: uuid }
        previous_versions:
          2: { fields: { id: uuid } }
          zero: { fields: { id: uuid } }
          1:
            subject: id
            fields: { user: uuid }
      created_v1:
        subject: id
        fields: { id: uuid }
"#;
    let expected = r#"catalog.yaml:10:11: error: previous version 2 of `user.created` is not below its version 2
  at: categories.user.events.created.previous_versions.2
  hint: `version` is the newest version: raise it above 2, or list only older versions here
catalog.yaml:11:11: error: previous version `zero` of `user.created` is not a positive integer
  at: categories.user.events.created.previous_versions.zero
  hint: list older versions by number: `previous_versions: { 1: { fields: … } }`
catalog.yaml:13:22: error: subject `id` names no field of `user.created` v1
  at: categories.user.events.created.previous_versions.1.subject
catalog.yaml:15:7: error: event `user.created_v1` becomes the Rust type `UserCreatedV1`, which is already version 1 of event `user.created`
  at: categories.user.events.created_v1
  hint: rename one of them
4 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn previous_version_keys() {
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created:
        version: 2
        subject: id
        fields: { id: uuid }
        previous_versions:
          1: { subjekt: id, fields: { id: uuid } }
"#;
    let expected = r#"catalog.yaml:10:16: error: unknown key `subjekt`
  at: categories.user.events.created.previous_versions.1.subjekt
  hint: did you mean `subject`?
1 error"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn partitions() {
    let catalog = r#"catalog: x
categories:
  user:
    partitions: 0
    events: { created: { subject: id, fields: { id: uuid } } }
  company:
    partitions: -4
    events: { created: { subject: id, fields: { id: uuid } } }
  partner:
    partitions: 2.5
    events: { created: { subject: id, fields: { id: uuid } } }
  menu:
    partitions: 1025
    events: { created: { subject: id, fields: { id: uuid } } }
  audit:
    partitions: "8"
    events: { created: { subject: id, fields: { id: uuid } } }
  system:
    partitions: [8]
    events: { created: { subject: id, fields: { id: uuid } } }
  currency:
    partitions: 1
    events: { created: { subject: id, fields: { id: uuid } } }
  security:
    partitions: 1024
    events: { created: { subject: id, fields: { id: uuid } } }
"#;
    let expected = r#"catalog.yaml:4:17: error: `partitions: 0` of category `user` is out of range: a category has 1 to 1024 partitions
  at: categories.user.partitions
  hint: leave `partitions` out (or write 1) for one stream; 2 or more order the category per subject across instances
catalog.yaml:7:17: error: `partitions: -4` of category `company` is out of range: a category has 1 to 1024 partitions
  at: categories.company.partitions
  hint: leave `partitions` out (or write 1) for one stream; 2 or more order the category per subject across instances
catalog.yaml:10:17: error: `partitions` of category `partner` must be a whole number, not `2.5`
  at: categories.partner.partitions
  hint: write how many streams the category has, from 1 to 1024: e.g. `partitions: 8`
catalog.yaml:13:17: error: `partitions: 1025` of category `menu` is out of range: a category has 1 to 1024 partitions
  at: categories.menu.partitions
  hint: each partition is a stream of its own and 1024 is the most; a few per instance of the busiest group is plenty
catalog.yaml:16:17: error: `partitions` of category `audit` must be a whole number, not the text `"8"`
  at: categories.audit.partitions
  hint: write the number without quotes: `partitions: 8`
catalog.yaml:19:17: error: `partitions` of category `system` must be a whole number, not a list
  at: categories.system.partitions
  hint: write how many streams the category has, from 1 to 1024: e.g. `partitions: 8`
6 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn partitions_misspelt() {
    let catalog = r#"catalog: x
categories:
  user:
    partition: 8
    events: { created: { subject: id, fields: { id: uuid } } }
"#;
    let expected = r#"catalog.yaml:4:5: error: unknown key `partition`
  at: categories.user.partition
  hint: did you mean `partitions`?
1 error"#;
    assert_eq!(diagnose(catalog), expected);
}
