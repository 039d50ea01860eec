//! Whether a payload valid under one JSON Schema is still valid under
//! another: the breaking differences between the schema recorded for a
//! version and the schema the code has for it now.
//!
//! Only what decides whether a stored payload still decodes is compared:
//! fields, required fields, types, enumerated values and variants.
//! Descriptions, titles and formats are not.

use serde_json::{Map, Value};

/// A schema node, with the document it came from (for its `$ref`s).
#[derive(Clone, Copy)]
struct Node<'a> {
    root: &'a Value,
    value: &'a Value,
}

impl<'a> Node<'a> {
    /// The node itself, or what its `$ref` points to (a bounded number of
    /// hops, so a reference cycle cannot loop).
    fn resolved(self) -> Node<'a> {
        let mut node = self;
        for _ in 0..16 {
            let Some(reference) = node.value.get("$ref").and_then(Value::as_str) else {
                return node;
            };
            let Some(target) = reference
                .strip_prefix('#')
                .and_then(|pointer| node.root.pointer(pointer))
            else {
                return node;
            };
            node = Node {
                root: node.root,
                value: target,
            };
        }
        node
    }

    fn get(self, key: &str) -> Option<Node<'a>> {
        self.value.get(key).map(|value| Node {
            root: self.root,
            value,
        })
    }

    fn object(self, key: &str) -> Option<&'a Map<String, Value>> {
        self.value.get(key).and_then(Value::as_object)
    }

    fn list(self, key: &str) -> Vec<Node<'a>> {
        self.value
            .get(key)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|value| Node {
                        root: self.root,
                        value,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The JSON types it allows; empty when it does not say.
    fn types(self) -> Vec<&'a str> {
        match self.value.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    fn required(self) -> Vec<&'a str> {
        self.value
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    fn variants(self) -> Vec<Node<'a>> {
        let mut variants = self.list("oneOf");
        variants.extend(self.list("anyOf"));
        variants
    }
}

/// The breaking differences from schema `old` to schema `new`, each a
/// sentence naming the field it is about.
pub(super) fn breaking(old: &Value, new: &Value) -> Vec<String> {
    let mut found = Vec::new();
    compare(
        Node {
            root: old,
            value: old,
        },
        Node {
            root: new,
            value: new,
        },
        "",
        &mut found,
        0,
    );
    found
}

/// How deep schemas are followed: recursive types stop here.
const MAX_DEPTH: usize = 32;

fn compare(old: Node<'_>, new: Node<'_>, path: &str, found: &mut Vec<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let (old, new) = (old.resolved(), new.resolved());
    let at = if path.is_empty() {
        "the payload".to_owned()
    } else {
        format!("field `{path}`")
    };

    // Variants (enums, options): each old variant must still be accepted.
    let (old_variants, new_variants) = (old.variants(), new.variants());
    if !old_variants.is_empty() || !new_variants.is_empty() {
        let olds = if old_variants.is_empty() {
            vec![old]
        } else {
            old_variants
        };
        let news = if new_variants.is_empty() {
            vec![new]
        } else {
            new_variants
        };
        let lost = olds
            .iter()
            .filter(|o| !news.iter().any(|n| accepts(**o, *n, depth)))
            .count();
        if lost > 0 {
            found.push(format!(
                "{at} no longer accepts {lost} of its earlier variants (a variant was removed, renamed or changed)"
            ));
        }
        return;
    }

    let (old_types, new_types) = (old.types(), new.types());
    if !old_types.is_empty() && !new_types.is_empty() {
        let kept =
            |t: &&str| new_types.contains(t) || (*t == "integer" && new_types.contains(&"number"));
        if !old_types.iter().all(kept) {
            found.push(format!(
                "{at} changed type from {} to {}",
                shown(&old_types),
                shown(&new_types)
            ));
            return;
        }
    }

    if let Some(old_value) = old.value.get("const") {
        let still = new.value.get("const").is_none_or(|v| v == old_value)
            && new
                .value
                .get("enum")
                .and_then(Value::as_array)
                .is_none_or(|values| values.contains(old_value));
        if !still {
            found.push(format!("{at} no longer accepts the value {old_value}"));
        }
    } else if let Some(new_value) = new.value.get("const") {
        found.push(format!("{at} now only accepts the value {new_value}"));
    }
    if let Some(new_values) = new.value.get("enum").and_then(Value::as_array) {
        match old.value.get("enum").and_then(Value::as_array) {
            Some(old_values) => {
                for value in old_values.iter().filter(|v| !new_values.contains(v)) {
                    found.push(format!("{at} no longer accepts the value {value}"));
                }
            }
            None if old.value.get("const").is_none() => {
                found.push(format!("{at} now only accepts listed values"));
            }
            None => {}
        }
    }

    let old_props = old.object("properties");
    let new_props = new.object("properties");
    if let Some(old_props) = old_props {
        let empty = Map::new();
        let new_map = new_props.unwrap_or(&empty);
        for (field, old_schema) in old_props {
            let field_path = join(path, field);
            match new_map.get(field) {
                Some(new_schema) => compare(
                    Node {
                        root: old.root,
                        value: old_schema,
                    },
                    Node {
                        root: new.root,
                        value: new_schema,
                    },
                    &field_path,
                    found,
                    depth + 1,
                ),
                // A schema that lists no properties at all accepts any.
                None if new_props.is_some() || !new.types().is_empty() => {
                    found.push(format!("field `{field_path}` was removed or renamed"));
                }
                None => {}
            }
        }
    }
    let old_required = old.required();
    for field in new.required() {
        if old_required.contains(&field) {
            continue;
        }
        let field_path = join(path, field);
        if old_props.is_some_and(|p| p.contains_key(field)) {
            found.push(format!("field `{field_path}` became required"));
        } else {
            found.push(format!(
                "required field `{field_path}` was added without a default"
            ));
        }
    }

    if let (Some(old_items), Some(new_items)) = (old.get("items"), new.get("items")) {
        compare(old_items, new_items, &format!("{path}[]"), found, depth + 1);
    }
    if let (Some(old_values), Some(new_values)) = (
        old.get("additionalProperties")
            .filter(|v| v.value.is_object()),
        new.get("additionalProperties")
            .filter(|v| v.value.is_object()),
    ) {
        compare(
            old_values,
            new_values,
            &format!("{path}{{}}"),
            found,
            depth + 1,
        );
    }
}

/// Whether every payload `old` accepts is accepted by `new`, as far as
/// this comparison can tell.
fn accepts(old: Node<'_>, new: Node<'_>, depth: usize) -> bool {
    let mut found = Vec::new();
    compare(old, new, "", &mut found, depth + 1);
    if !found.is_empty() {
        return false;
    }
    // Two object variants are the same variant only if they agree on the
    // fields that tell variants apart (an externally tagged variant's one
    // required key).
    let (old, new) = (old.resolved(), new.resolved());
    let old_required = old.required();
    old_required.is_empty()
        || old_required.iter().all(|f| new.required().contains(f))
        || new.object("properties").is_none()
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn shown(types: &[&str]) -> String {
    types.join(" or ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::breaking;

    #[test]
    fn widening_is_not_breaking_and_narrowing_is() {
        let old =
            json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
        let wider = json!({"type": "object", "properties": {"n": {"type": "number"}, "m": {"type": ["string", "null"]}}, "required": ["n"]});
        assert!(breaking(&old, &wider).is_empty());
        assert_eq!(
            breaking(&wider, &old),
            [
                "field `m` was removed or renamed",
                "field `n` changed type from number to integer",
            ]
        );
    }

    #[test]
    fn nested_fields_and_references_are_followed() {
        let old = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}, "required": ["a"],
            "$defs": {"A": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}});
        let new = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}, "required": ["a"],
            "$defs": {"A": {"type": "object", "properties": {"town": {"type": "string"}}, "required": ["town"]}}});
        assert_eq!(
            breaking(&old, &new),
            [
                "field `a.city` was removed or renamed",
                "required field `a.town` was added without a default"
            ]
        );
    }

    #[test]
    fn a_removed_variant_is_breaking() {
        let old = json!({"oneOf": [{"type": "string", "const": "Cash"}, {"type": "string", "const": "Card"}]});
        let new = json!({"oneOf": [{"type": "string", "const": "Cash"}]});
        assert_eq!(
            breaking(&old, &new),
            [
                "the payload no longer accepts 1 of its earlier variants (a variant was removed, renamed or changed)"
            ]
        );
        assert!(breaking(&new, &old).is_empty());
    }
}
