//! Renders the document templates of `codegen/templates/` with handlebars.
//!
//! The templates are embedded at build time. Nothing is HTML-escaped: each
//! emitter prepares its values for its language (quoted with the `json`
//! helper for JSON, YAML and Python strings; escaped for Markdown tables).

use handlebars::{Handlebars, handlebars_helper, no_escape};
use serde::Serialize;

/// A template: its name (for errors) and its text.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// The file name under `codegen/templates/`.
    pub name: &'static str,
    /// The template text.
    pub text: &'static str,
}

/// The template `codegen/templates/<name>`, embedded.
macro_rules! template {
    ($name:literal) => {
        Template {
            name: $name,
            text: include_str!(concat!("../../templates/", $name)),
        }
    };
}

/// `asyncapi.yaml`: the AsyncAPI 3.0 document.
pub const ASYNCAPI: Template = template!("asyncapi.yaml.hbs");
/// `schemas/<type>.json`: one JSON Schema document.
pub const JSON_SCHEMA: Template = template!("schema.json.hbs");
/// `EVENTS.md`: the human catalog.
pub const MARKDOWN: Template = template!("EVENTS.md.hbs");
/// `python/xerpium_events.py`: the pydantic models.
pub const PYTHON: Template = template!("xerpium_events.py.hbs");

handlebars_helper!(json: |value: Json| match value {
    serde_json::Value::String(text) => super::schema::quote(text),
    other => serde_json::to_string(other).unwrap_or_default(),
});
handlebars_helper!(key: |name: str| super::schema::yaml_key(name));

/// Renders templates; build one per emitter and render as many files as needed.
pub struct Renderer {
    registry: Handlebars<'static>,
}

impl Renderer {
    /// A renderer of `templates`, strict (a missing value is an error) and without escaping.
    pub fn new(templates: &[Template]) -> Self {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(no_escape);
        registry.register_helper("json", Box::new(json));
        registry.register_helper("key", Box::new(key));
        for template in templates {
            if let Err(error) = registry.register_template_string(template.name, template.text) {
                // The templates are part of the generator, checked by its tests.
                panic!(
                    "template {} does not parse ({error}); please report this bug",
                    template.name
                );
            }
        }
        Renderer { registry }
    }

    /// Renders `template` with `data`.
    pub fn render(&self, template: &Template, data: &impl Serialize) -> String {
        match self.registry.render(template.name, data) {
            Ok(text) => text,
            // Views are built from checked catalogs, so a failure is a generator bug.
            Err(error) => panic!("template {} failed ({error}); please report this bug", template.name),
        }
    }
}
