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

/// Types named by a keyword that no identifier can spell: Rust's `Self`, Python's `None` and `True`.
#[test]
fn reserved_keywords() {
    let catalog = r#"catalog: x
types:
  Self: { fields: { a: string } }
  None: { fields: { a: string } }
enums:
  True: [yes]
categories:
  user:
    events:
      created: { subject: id, fields: { id: uuid, a: Self, b: None? } }
"#;
    let expected = r#"catalog.yaml:3:3: error: the name `Self` of type `Self` is a keyword in Rust
  at: types.Self
  hint: rename it: no Rust identifier can spell `Self`
catalog.yaml:4:3: error: the name `None` of type `None` is a keyword in Python
  at: types.None
  hint: rename it: no Python identifier can spell `None`
catalog.yaml:6:3: error: the name `True` of enum `True` is a keyword in Python
  at: enums.True
  hint: rename it: no Python identifier can spell `True`
3 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

/// Names the generator derives (`{Category}Handler`, `{Category}Dispatch`, `{Service}Commands`) collide with types, events and its own items.
#[test]
fn generated_names_collide() {
    let catalog = r#"catalog: x
types:
  OrderDispatch: { fields: { a: string } }
categories:
  order:
    events:
      placed: { subject: id, fields: { id: uuid } }
  event:
    events:
      sent: { subject: id, fields: { id: uuid } }
  ledger:
    events:
      handler: { subject: id, fields: { id: uuid } }
      commands: { subject: id, fields: { id: uuid } }
commands:
  ledger.get:
    target: ledger
    request: {}
    response: {}
"#;
    let expected = r#"catalog.yaml:5:3: error: category `order` becomes the Rust type `OrderDispatch`, which is already type `OrderDispatch`
  at: categories.order
  hint: rename one of them
catalog.yaml:8:3: error: category `event` becomes the Rust type `EventHandler`, which is already the generated trait that handles every event
  at: categories.event
  hint: rename it
catalog.yaml:13:7: error: event `ledger.handler` becomes the Rust type `LedgerHandler`, which is already the handler trait of category `ledger`
  at: categories.ledger.events.handler
  hint: rename one of them
catalog.yaml:17:5: error: service `ledger` becomes the Rust type `LedgerCommands`, which is already event `ledger.commands`
  at: commands.ledger.get.target
  hint: rename one of them
4 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

/// Types named like the Python module's own names or its models' class constants.
#[test]
fn python_module_names() {
    let catalog = r#"catalog: x
types:
  EVENTS: { fields: { a: string } }
  TYPE: { fields: { a: string } }
enums:
  StreamLayout: [a]
  Envelope: [b]
categories:
  user:
    events:
      created: { subject: id, fields: { id: uuid } }
"#;
    let expected = r#"catalog.yaml:3:3: error: type `EVENTS` becomes the Python class `EVENTS`, which is already the table of event models of the Python module
  at: types.EVENTS
  hint: rename it
catalog.yaml:4:3: error: type `TYPE` becomes the Python class `TYPE`, which is already a class constant of the Python event models
  at: types.TYPE
  hint: rename it
catalog.yaml:6:3: error: enum `StreamLayout` becomes the Python class `StreamLayout`, which is already the stream layout class of the Python module
  at: enums.StreamLayout
  hint: rename it
catalog.yaml:7:3: error: enum `Envelope` becomes the Python class `Envelope`, which is already the envelope of the Python module and the AsyncAPI document
  at: enums.Envelope
  hint: rename it
4 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

/// Values, categories and event types whose Rust variant is `ALL` or `Unrecognized`, and notification types that become the same variant.
#[test]
fn reserved_variants() {
    let catalog = r#"catalog: x
enums:
  Level: [low, a_l_l, unrecognized, self]
categories:
  a_l_l:
    events:
      created: { subject: id, fields: { id: uuid } }
  a:
    events:
      l_l: { subject: id, fields: { id: uuid } }
notifications:
  types: [a_1, a1]
"#;
    let expected = r#"catalog.yaml:3:16: error: enum value `a_l_l` of `Level` becomes the Rust variant `ALL`, which is already the constant of every value
  at: enums.Level.1
  hint: rename it
catalog.yaml:3:23: error: enum value `unrecognized` of `Level` becomes the Rust variant `Unrecognized`, which is already the variant that keeps a value this build does not know
  at: enums.Level.2
  hint: rename it
catalog.yaml:5:3: error: category `a_l_l` becomes the Rust variant `Category::ALL`, which is already the constant of every category
  at: categories.a_l_l
  hint: rename it
catalog.yaml:10:7: error: event `a.l_l` becomes the Rust variant `EventType::ALL`, which is already the constant of every event type
  at: categories.a.events.l_l
  hint: rename it
catalog.yaml:12:16: error: notification types `a_1` and `a1` both become `A1` in Rust
  at: notifications.types.1
  hint: remove or rename one
5 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

/// Float defaults JSON cannot carry; `1e300` is fine.
#[test]
fn non_finite_float_defaults() {
    let catalog = r#"catalog: x
categories:
  sensor:
    events:
      read:
        subject: id
        fields:
          id: uuid
          high: { type: f64, default: .inf }
          low: { type: f64?, default: -.inf }
          mean: { type: f64, default: .nan }
          huge: { type: f64, default: 1e400 }
          fine: { type: f64, default: 1e300 }
"#;
    let expected = r#"catalog.yaml:9:39: error: default `.inf` is not a finite number; JSON has no infinity or NaN (and a number beyond ±1.8e308 is infinite)
  at: categories.sensor.events.read.fields.high.default
catalog.yaml:10:39: error: default `-.inf` is not a finite number; JSON has no infinity or NaN (and a number beyond ±1.8e308 is infinite)
  at: categories.sensor.events.read.fields.low.default
catalog.yaml:11:39: error: default `.nan` is not a finite number; JSON has no infinity or NaN (and a number beyond ±1.8e308 is infinite)
  at: categories.sensor.events.read.fields.mean.default
catalog.yaml:12:39: error: default `.inf` is not a finite number; JSON has no infinity or NaN (and a number beyond ±1.8e308 is infinite)
  at: categories.sensor.events.read.fields.huge.default
4 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

/// Control characters (line breaks and tabs are fine in descriptions, not in the name) and text-direction characters.
#[test]
fn control_characters() {
    let catalog = r#"catalog: "two\nlines"
description: "A bell \a here."
types:
  Money:
    description: "right-to-left \u202E override"
    fields:
      amount: { type: decimal, description: "DEL \x7F" }
categories:
  user:
    description: "Tabs\tand\nline breaks are fine."
    events:
      created:
        description: "CR \r alone"
        subject: id
        fields: { id: uuid }
"#;
    let expected = r#"catalog.yaml:1:10: error: the catalog name contains the control character U+000A
  at: catalog
  hint: write the name as one line of plain text
catalog.yaml:2:14: error: the description contains the control character U+0007
  at: description
  hint: write plain text: line breaks and tabs are the only control characters a description may hold
catalog.yaml:5:18: error: the description contains U+202E, which changes the direction of text
  at: types.Money.description
  hint: remove it: Rust refuses text-direction characters in generated code
catalog.yaml:7:45: error: the description contains the control character U+007F
  at: types.Money.fields.amount.description
  hint: write plain text: line breaks and tabs are the only control characters a description may hold
catalog.yaml:13:22: error: the description contains the control character U+000D
  at: categories.user.events.created.description
  hint: write plain text: line breaks and tabs are the only control characters a description may hold
5 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

/// Delivery limits and timeouts the runtime refuses at start, or that the generated code would round to zero.
#[test]
fn limits_the_runtime_refuses() {
    let catalog = r#"catalog: x
delivery:
  max_len: 0
  max_attempts: 0
  retention: 0s
categories:
  user:
    delivery:
      backoff: { first: 500us, max: 10m }
    events:
      created:
        subject: id
        delivery: { backoff: { first: 1h }, retention: 999us }
        fields: { id: uuid }
commands:
  user.get:
    target: users
    timeout: 0ms
    request: {}
    response: {}
"#;
    let expected = r#"catalog.yaml:3:12: error: max_len must be at least 1
  at: delivery.max_len
  hint: a stream capped at 0 entries keeps nothing; the runtime refuses it
catalog.yaml:4:17: error: max_attempts must be at least 1
  at: delivery.max_attempts
catalog.yaml:5:14: error: duration `0s` must be longer than zero
  at: delivery.retention
catalog.yaml:9:25: error: duration `500us` is shorter than a millisecond
  at: categories.user.delivery.backoff.first
  hint: the generated code counts in milliseconds: write at least `1ms`
catalog.yaml:13:21: error: backoff `first` is longer than `max`
  at: categories.user.events.created.delivery.backoff
  hint: the first delay must not exceed the largest
catalog.yaml:13:56: error: duration `999us` is shorter than a millisecond
  at: categories.user.events.created.delivery.retention
  hint: the generated code counts in milliseconds: write at least `1ms`
catalog.yaml:18:14: error: duration `0ms` must be longer than zero
  at: commands.user.get.timeout
7 errors"#;
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
  hint: the first `Money` is at 3:3; rename or remove one
catalog.yaml:6:16: error: duplicate value `a` in enum `Role`
  at: enums.Role.2
  hint: remove or rename one
catalog.yaml:14:11: error: duplicate field `id`
  at: categories.user.events.created.fields.id
  hint: the first `id` is at 13:11; rename or remove one
catalog.yaml:15:7: error: duplicate event `created`
  at: categories.user.events.created
  hint: the first `created` is at 10:7; rename or remove one
catalog.yaml:18:3: error: duplicate category `user`
  at: categories.user
  hint: the first `user` is at 8:3; rename or remove one
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
    let expected = r#"catalog.yaml:9:39: error: expected `true` or `false`, found the text `maybe`
  at: categories.user.events.created.fields.email.pii
  hint: write `true` or `false`
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
    let expected = "catalog.yaml:6:18: error: expected a whole number, found the text `one`
  at: categories.user.events.created.version
  hint: write the number in digits, e.g. `1`
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

#[test]
fn every_problem_at_once() {
    let catalog = r#"catalog: x
enums:
  Role: [admin, viewer]
categories:
  user:
    descriptoin: User accounts.
    events:
      created:
        description: A user registered.
        subject: user_idd
        fields:
          user_id: uuid
          email: { type: string, pii: maybe }
          name: strng
        description: Again.
"#;
    let expected = r#"catalog.yaml:6:5: error: unknown key `descriptoin`
  at: categories.user.descriptoin
  hint: did you mean `description`?
catalog.yaml:10:18: error: subject `user_idd` names no field of `user.created`
  at: categories.user.events.created.subject
  hint: did you mean `user_id`?
catalog.yaml:13:39: error: expected `true` or `false`, found the text `maybe`
  at: categories.user.events.created.fields.email.pii
  hint: write `true` or `false`
catalog.yaml:14:17: error: unknown type `strng`
  at: categories.user.events.created.fields.name
  hint: did you mean `string`?
catalog.yaml:15:9: error: duplicate key `description`
  at: categories.user.events.created.description
  hint: the first `description` is at 9:9; keep one of them
5 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn duplicate_key_at_the_second_occurrence() {
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created:
        subject: id
        fields: { id: uuid, n: { type: i32, default: 1, default: 2 } }
        subject: id
catalog: y
"#;
    let expected = r#"catalog.yaml:7:57: error: duplicate key `default`
  at: categories.user.events.created.fields.n.default
  hint: the first `default` is at 7:45; keep one of them
catalog.yaml:8:9: error: duplicate key `subject`
  at: categories.user.events.created.subject
  hint: the first `subject` is at 6:9; keep one of them
catalog.yaml:9:1: error: duplicate key `catalog`
  at: catalog
  hint: the first `catalog` is at 1:1; keep one of them
3 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn byte_order_mark() {
    let catalog =
        "\u{feff}catalog: x\ncategories:\n  user:\n    events:\n      created: { subject: id, fields: { id: uuid } }\n";
    check_catalog_text("catalog.yaml", catalog).unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
    let dir = std::env::temp_dir().join(format!("xerpium-codegen-bom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("events.yaml");
    std::fs::write(&path, catalog.replace("catalog: x", "catalg: x")).expect("written");
    let diagnostics = xerpium_codegen::check_catalog(&path).expect_err("misspelt key");
    std::fs::remove_dir_all(&dir).expect("removed");
    let expected = format!(
        "{}:1:1: error: unknown key `catalg`
  at: catalg
  hint: did you mean `catalog`?
1 error",
        path.display()
    );
    assert_eq!(diagnostics.to_string(), expected);
}

#[test]
fn several_documents() {
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created: { subject: id, fields: { id: uuid } }
---
catalog: y
"#;
    let expected = r#"catalog.yaml:6:1: error: a second YAML document starts here; a catalog is one document
  hint: remove this `---` and what follows, or merge it into the document above
1 error"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn wrong_kind_of_value() {
    let catalog = r#"catalog: x
delivery: fast
types: [Money]
categories:
  user:
    events:
      created: A user registered.
      deleted:
        subject: id
        fields: [id, uuid]
"#;
    let expected = r#"catalog.yaml:2:11: error: expected a map with the keys max_attempts, backoff, retention, max_len, found the text `fast`
  at: delivery
  hint: write `{ max_attempts: … }`, or one key per line below, indented
catalog.yaml:3:8: error: expected a map of type names to types, found a list
  at: types
  hint: write `types: { Money: { fields: { amount: decimal } } }`
catalog.yaml:7:16: error: expected a map with the keys description, version, subject, delivery, fields, previous_versions, found the text `A user registered.`
  at: categories.user.events.created
  hint: write `{ description: … }`, or one key per line below, indented
catalog.yaml:10:17: error: expected a map of field names to types, found a list
  at: categories.user.events.deleted.fields
  hint: write `fields: { id: uuid, name: string }`
4 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn numbers() {
    let catalog = r#"catalog: x
delivery: { max_attempts: -1, max_len: 1.5 }
categories:
  user:
    events:
      created: { version: "2", subject: id, fields: { id: uuid } }
"#;
    let expected = r#"catalog.yaml:2:27: error: expected a whole number from 0 to 4294967295, found the number `-1`
  at: delivery.max_attempts
  hint: write a positive number
catalog.yaml:2:40: error: expected a whole number, found the number `1.5`
  at: delivery.max_len
  hint: write a whole number, e.g. `3`
catalog.yaml:6:27: error: expected a whole number, found the text `"2"`
  at: categories.user.events.created.version
  hint: write the number without quotes: `2`
3 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn tags() {
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created:
        version: !!str 1
        subject: id
        fields: !include user-fields.yaml
"#;
    let expected = r#"catalog.yaml:6:24: error: YAML tags are not supported: `!!str`
  at: categories.user.events.created.version
  hint: remove the tag; to have YAML read a value as text, put it in quotes
catalog.yaml:8:26: error: YAML tags are not supported: `!include`
  at: categories.user.events.created.fields
  hint: a catalog is one file: write the included part here
2 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn booleans_and_field_maps() {
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created:
        subject: id
        fields:
          id: uuid
          email: { pii: yes }
          vip: { type: bool, deprecated: off }
          nickname:
"#;
    let expected = r#"catalog.yaml:9:11: error: field `email` has no type
  at: categories.user.events.created.fields.email
  hint: add its type to the map: `email: { type: string, … }`
catalog.yaml:9:25: error: expected `true` or `false`, found the text `yes`
  at: categories.user.events.created.fields.email.pii
  hint: write `true`: YAML 1.2 reads `yes` as text, not as a boolean
catalog.yaml:10:42: error: expected `true` or `false`, found the text `off`
  at: categories.user.events.created.fields.vip.deprecated
  hint: write `false`: YAML 1.2 reads `off` as text, not as a boolean
catalog.yaml:11:11: error: field `nickname` has no type
  at: categories.user.events.created.fields.nickname
  hint: write its type after the colon: `nickname: string`
4 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn no_space_after_a_colon() {
    let catalog = r#"catalog: x
categories:
  user:
    description:User accounts.
    events:
      created: { subject: id, fields: { id: uuid } }
"#;
    let expected = r#"catalog.yaml:5:11: error: invalid YAML: mapping values are not allowed in this context
  hint: line 4 has a `:` with no space after it: write `key: value`
1 error"#;
    assert_eq!(diagnose(catalog), expected);
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created:
        subject:id
"#;
    let expected = r#"catalog.yaml:6:9: error: expected a map with the keys description, version, subject, delivery, fields, previous_versions, found the text `subject:id`
  at: categories.user.events.created
  hint: put a space after `subject:`; without one, YAML reads `subject:id` as one piece of text
1 error"#;
    assert_eq!(diagnose(catalog), expected);
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created:
        subject: id
        fields:id
"#;
    let expected = r#"catalog.yaml:8:1: error: invalid YAML: simple key expect ':'
  hint: line 7 has a `:` with no space after it: write `key: value`
1 error"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn merge_key() {
    let catalog = r#"catalog: x
types:
  Base: &base
    fields: { id: uuid }
  Money:
    <<: *base
    description: An amount.
categories:
  user:
    events:
      created: { subject: id, fields: { id: uuid, amount: Money } }
"#;
    let expected = r#"catalog.yaml:6:5: error: YAML merge keys (`<<`) are not supported
  at: types.Money.<<
  hint: write the keys out here; an alias (`*name`) can repeat a whole value, not part of a map
1 error"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn tab_after_a_colon() {
    let catalog = "catalog: x\ncategories:\n  user:\n    events:\n      created:\n        subject:\tid\n";
    let expected = "catalog.yaml:6:17: error: invalid YAML: ':' must be followed by a valid YAML whitespace
  hint: a tab follows the `:`: separate a key from its value with a space (`key: value`)
1 error";
    assert_eq!(diagnose(catalog), expected);
}

/// A small deterministic generator (xorshift), so that a failure names a reproducible case.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

/// `text` with one random edit: a byte replaced (often by a character that means something to YAML), removed or
/// doubled, or a line doubled.
fn mutate(text: &[u8], random: &mut Random) -> Vec<u8> {
    const SPECIAL: &[u8] = b":-[]{},#&*!|>?'\"%@`<\t \n~0123456789";
    let mut bytes = text.to_vec();
    let at = random.below(bytes.len());
    match random.below(5) {
        0 => bytes[at] = SPECIAL[random.below(SPECIAL.len())],
        1 => bytes[at] = u8::try_from(random.below(256)).unwrap_or_default(),
        2 => {
            bytes.remove(at);
        }
        3 => bytes.insert(at, bytes[at]),
        _ => {
            let start = bytes[..at].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let end = bytes[at..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |i| at + i + 1);
            let line = bytes[start..end].to_vec();
            bytes.splice(start..start, line);
        }
    }
    bytes
}

#[test]
fn bad_input_gives_diagnostics_not_panics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = vec![root.join("../events.yaml")];
    for entry in std::fs::read_dir(root.join("tests/fixtures")).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            sources.push(path);
        }
    }
    sources.sort();
    let mut random = Random(0x5eed_cafe);
    for source in &sources {
        let text = std::fs::read(source).expect("readable");
        for case in 0..300 {
            let bytes = mutate(&text, &mut random);
            let mutant = String::from_utf8_lossy(&bytes);
            let result = std::panic::catch_unwind(|| check_catalog_text("mutant.yaml", &mutant));
            let Ok(result) = result else {
                panic!("case {case} of {} panicked:\n{mutant}", source.display());
            };
            if let Err(diagnostics) = result {
                let rendered = diagnostics.to_string();
                assert!(!diagnostics.0.is_empty(), "case {case} of {}", source.display());
                assert!(
                    diagnostics.0.iter().all(|d| d.position.is_some()),
                    "case {case} of {}: a diagnostic without a position:\n{rendered}",
                    source.display()
                );
                assert!(!rendered.contains("Raw"), "case {case}: an internal name:\n{rendered}");
            }
        }
    }
}

#[test]
fn misspelt_keys_cost_one_diagnostic_each() {
    let catalog = r#"catalog: x
categories:
  user:
    events:
      created:
        subjct: id
        fields:
          id: uuid
          email: { tpye: string }
commands:
  user.get:
    targt: user-auth
    request: { id: uuid }
    response: { email: string? }
"#;
    let expected = r#"catalog.yaml:6:9: error: unknown key `subjct`
  at: categories.user.events.created.subjct
  hint: did you mean `subject`?
catalog.yaml:9:20: error: unknown key `tpye`
  at: categories.user.events.created.fields.email.tpye
  hint: did you mean `type`?
catalog.yaml:12:5: error: unknown key `targt`
  at: commands.user.get.targt
  hint: did you mean `target`?
3 errors"#;
    assert_eq!(diagnose(catalog), expected);
}

#[test]
fn not_a_map() {
    let expected = r#"catalog.yaml:1:1: error: expected a map with the keys catalog, description, delivery, types, enums, categories, commands, notifications, found a list
  hint: write `{ catalog: … }`, or one key per line below, indented
1 error"#;
    assert_eq!(diagnose("- catalog: x\n"), expected);
}
