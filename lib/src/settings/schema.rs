//! The known keys, derived from the settings types themselves: [`Settings`] is deserialized
//! once from a probe that answers every question with a harmless value and records the
//! fields each struct asks for. A field added to a settings struct is therefore known at
//! once (with or without an entry in `docflow.default.toml`); nothing else lists keys.
//!
//! The probe must be able to build every settings type: `the_probe_reaches_every_section`
//! fails when a new type refuses its answers (give it a default or a plain serde shape).

use std::collections::BTreeMap;

use serde::de::value::{Error, StrDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use super::Settings;

/// What a leaf is read as: how `docflow config set` types a value given as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text (durations and sizes included: they are written as strings).
    Text,
    Integer,
    Float,
    Bool,
    /// A list, written as a TOML array.
    List,
    /// Anything serde accepts in several shapes (a secret or a list of them, the token
    /// tables): a TOML value when it looks like one, else text.
    Any,
}

/// One key of the settings tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Leaf(Kind),
    /// A struct: its fields.
    Table(BTreeMap<&'static str, Node>),
    /// A map with names chosen by the operator (`providers.<name>`): every value has this shape.
    Map(Box<Node>),
}

impl Node {
    /// The settings tree.
    pub fn settings() -> &'static Node {
        static TREE: std::sync::OnceLock<Node> = std::sync::OnceLock::new();
        TREE.get_or_init(|| {
            let mut root = Node::Leaf(Kind::Any);
            <Settings as serde::Deserialize>::deserialize(Probe { slot: &mut root })
                .unwrap_or_else(|e| panic!("the settings types cannot be probed for their keys: {e}"));
            root
        })
    }

    /// The node at `path` (map names match any segment).
    pub fn get<'a>(&'a self, path: &[&str]) -> Option<&'a Node> {
        let Some((first, rest)) = path.split_first() else { return Some(self) };
        match self {
            Node::Table(fields) => fields.get(*first)?.get(rest),
            Node::Map(value) => value.get(rest),
            Node::Leaf(_) => None,
        }
    }

    /// The child named `name`: a field, or any name of a map.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.get(&[name])
    }

    /// Every dotted key below this node, leaves and tables, with `*` for a map's names.
    pub fn keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect("", &mut out);
        out
    }

    fn collect(&self, prefix: &str, out: &mut Vec<String>) {
        let join = |name: &str| if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") };
        match self {
            Node::Leaf(_) => {}
            Node::Table(fields) => {
                for (name, node) in fields {
                    out.push(join(name));
                    node.collect(&join(name), out);
                }
            }
            Node::Map(value) => {
                out.push(join("*"));
                value.collect(&join("*"), out);
            }
        }
    }
}

/// Answers the settings types' questions and records what they ask for in `slot`.
struct Probe<'a> {
    slot: &'a mut Node,
}

impl Probe<'_> {
    fn leaf(self, kind: Kind) {
        *self.slot = Node::Leaf(kind);
    }
}

/// A struct's fields, each answered by a probe of its own.
struct Fields<'a> {
    names: &'static [&'static str],
    next: usize,
    table: &'a mut BTreeMap<&'static str, Node>,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some(name) = self.names.get(self.next) else { return Ok(None) };
        self.next += 1;
        seed.deserialize(StrDeserializer::<Error>::new(name)).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let name = self.names[self.next - 1];
        seed.deserialize(Probe { slot: self.table.entry(name).or_insert(Node::Leaf(Kind::Any)) })
    }
}

/// A map with one entry named `*`.
struct OneEntry<'a> {
    slot: Option<&'a mut Node>,
    key_given: bool,
}

impl<'de> MapAccess<'de> for OneEntry<'_> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        if self.key_given || self.slot.is_none() {
            return Ok(None);
        }
        self.key_given = true;
        seed.deserialize(StrDeserializer::<Error>::new("*")).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let slot = self.slot.take().expect("a value follows its key");
        seed.deserialize(Probe { slot })
    }
}

struct Empty;

impl<'de> SeqAccess<'de> for Empty {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, _: T) -> Result<Option<T::Value>, Error> {
        Ok(None)
    }
}

macro_rules! answer {
    ($($method:ident => $kind:expr, |$visitor:ident| $answer:expr;)*) => {
        $(fn $method<V: Visitor<'de>>(self, $visitor: V) -> Result<V::Value, Error> {
            self.leaf($kind);
            $answer
        })*
    };
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = Error;

    answer! {
        // An empty list suits every shape that takes one (the token tables, a list of
        // secrets).
        deserialize_any => Kind::Any, |v| v.visit_seq(Empty);
        deserialize_bool => Kind::Bool, |v| v.visit_bool(false);
        deserialize_i8 => Kind::Integer, |v| v.visit_u64(1);
        deserialize_i16 => Kind::Integer, |v| v.visit_u64(1);
        deserialize_i32 => Kind::Integer, |v| v.visit_u64(1);
        deserialize_i64 => Kind::Integer, |v| v.visit_u64(1);
        deserialize_u8 => Kind::Integer, |v| v.visit_u64(1);
        deserialize_u16 => Kind::Integer, |v| v.visit_u64(1);
        deserialize_u32 => Kind::Integer, |v| v.visit_u64(1);
        deserialize_u64 => Kind::Integer, |v| v.visit_u64(1);
        deserialize_f32 => Kind::Float, |v| v.visit_f64(1.0);
        deserialize_f64 => Kind::Float, |v| v.visit_f64(1.0);
        deserialize_char => Kind::Text, |v| v.visit_char('a');
        // A duration parses from it too.
        deserialize_str => Kind::Text, |v| v.visit_str("1s");
        deserialize_string => Kind::Text, |v| v.visit_str("1s");
        deserialize_bytes => Kind::Text, |v| v.visit_bytes(b"");
        deserialize_byte_buf => Kind::Text, |v| v.visit_bytes(b"");
        deserialize_unit => Kind::Any, |v| v.visit_unit();
        deserialize_seq => Kind::List, |v| v.visit_seq(Empty);
        deserialize_identifier => Kind::Text, |v| v.visit_str("");
        deserialize_ignored_any => Kind::Any, |v| v.visit_unit();
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        *self.slot = Node::Map(Box::new(Node::Leaf(Kind::Any)));
        let Node::Map(value) = self.slot else { unreachable!("just set") };
        visitor.visit_map(OneEntry { slot: Some(value), key_given: false })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        *self.slot = Node::Table(BTreeMap::new());
        let Node::Table(table) = self.slot else { unreachable!("just set") };
        visitor.visit_map(Fields { names: fields, next: 0, table })
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.leaf(Kind::Text);
        visitor.visit_enum(variants.first().copied().unwrap_or_default().into_deserializer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_reaches_every_section() {
        let tree = Node::settings();
        let keys = tree.keys();
        for key in [
            "nats.url",
            "nats.tls.ca_file",
            "nats.password",
            "database.acquire_timeout",
            "s3.secret_key",
            "providers.*.api_key",
            "providers.*.breaker.probe_after",
            "gateway.tokens",
            "gateway.session_secret",
            "admin.listen",
            "stages.watchdog.pull_expires",
            "runtime.worker_threads",
            "mail.smtp_url",
            "mail.uploaders",
            "stages.mail.backoff",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
        assert_eq!(tree.get(&["nats", "replicas"]), Some(&Node::Leaf(Kind::Integer)));
        assert_eq!(tree.get(&["stages", "transfer", "backoff"]), Some(&Node::Leaf(Kind::List)));
        assert_eq!(tree.get(&["providers", "acme", "result_hosts"]), Some(&Node::Leaf(Kind::List)));
        assert_eq!(tree.get(&["providers", "acme", "callback_secret"]), Some(&Node::Leaf(Kind::Any)));
        assert_eq!(tree.get(&["providers", "acme", "delivery"]), Some(&Node::Leaf(Kind::Text)));
        assert_eq!(tree.get(&["database", "acquire_timeout"]), Some(&Node::Leaf(Kind::Text)));
        assert!(matches!(tree.get(&["providers"]), Some(Node::Map(_))));
        assert_eq!(tree.get(&["gateway", "lisen"]), None);
        assert_eq!(tree.get(&["nats", "url", "deeper"]), None);
    }
}
