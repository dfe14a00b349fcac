//! Stand-in for `serde_json`, read only by rust-analyzer in the Ferrolab kernel: the types and
//! signatures a learner's variables can have (`Layer::get_config()` returns a `Value`). Never
//! compiled; the build uses the real crate.
use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Map<K, V>(BTreeMap<K, V>);

impl<K: Ord, V> Map<K, V> {
    pub fn new() -> Self { Map(BTreeMap::new()) }
    pub fn get(&self, _key: &str) -> Option<&V> { None }
    pub fn contains_key(&self, _key: &str) -> bool { false }
    pub fn insert(&mut self, _k: K, _v: V) -> Option<V> { None }
    pub fn len(&self) -> usize { 0 }
    pub fn is_empty(&self) -> bool { true }
    pub fn keys(&self) -> std::collections::btree_map::Keys<'_, K, V> { self.0.keys() }
    pub fn values(&self) -> std::collections::btree_map::Values<'_, K, V> { self.0.values() }
    pub fn iter(&self) -> std::collections::btree_map::Iter<'_, K, V> { self.0.iter() }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Number(f64);

impl Number {
    pub fn as_f64(&self) -> Option<f64> { None }
    pub fn as_i64(&self) -> Option<i64> { None }
    pub fn as_u64(&self) -> Option<u64> { None }
    pub fn is_f64(&self) -> bool { false }
    pub fn is_i64(&self) -> bool { false }
    pub fn is_u64(&self) -> bool { false }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Map<String, Value>),
}

/// What can index a `Value` (the real crate's `serde_json::value::Index`).
pub trait Index {}
impl Index for usize {}
impl Index for str {}
impl Index for String {}
impl<T: Index + ?Sized> Index for &T {}

impl<I: Index> std::ops::Index<I> for Value {
    type Output = Value;
    fn index(&self, _: I) -> &Value { self }
}
impl<I: Index> std::ops::IndexMut<I> for Value {
    fn index_mut(&mut self, _: I) -> &mut Value { self }
}

impl Value {
    pub fn get<I: Index>(&self, _index: I) -> Option<&Value> { None }
    pub fn get_mut<I: Index>(&mut self, _index: I) -> Option<&mut Value> { None }
    pub fn pointer(&self, _pointer: &str) -> Option<&Value> { None }
    pub fn as_f64(&self) -> Option<f64> { None }
    pub fn as_i64(&self) -> Option<i64> { None }
    pub fn as_u64(&self) -> Option<u64> { None }
    pub fn as_bool(&self) -> Option<bool> { None }
    pub fn as_str(&self) -> Option<&str> { None }
    pub fn as_array(&self) -> Option<&Vec<Value>> { None }
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> { None }
    pub fn as_object(&self) -> Option<&Map<String, Value>> { None }
    pub fn as_object_mut(&mut self) -> Option<&mut Map<String, Value>> { None }
    pub fn as_null(&self) -> Option<()> { None }
    pub fn is_null(&self) -> bool { false }
    pub fn is_boolean(&self) -> bool { false }
    pub fn is_number(&self) -> bool { false }
    pub fn is_string(&self) -> bool { false }
    pub fn is_array(&self) -> bool { false }
    pub fn is_object(&self) -> bool { false }
    pub fn is_f64(&self) -> bool { false }
    pub fn is_i64(&self) -> bool { false }
    pub fn is_u64(&self) -> bool { false }
    pub fn take(&mut self) -> Value { Value::Null }
}

impl fmt::Display for Value {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result { Ok(()) }
}
impl From<f64> for Value { fn from(_: f64) -> Value { Value::Null } }
impl From<f32> for Value { fn from(_: f32) -> Value { Value::Null } }
impl From<i64> for Value { fn from(_: i64) -> Value { Value::Null } }
impl From<usize> for Value { fn from(_: usize) -> Value { Value::Null } }
impl From<bool> for Value { fn from(_: bool) -> Value { Value::Null } }
impl From<String> for Value { fn from(_: String) -> Value { Value::Null } }
impl From<&str> for Value { fn from(_: &str) -> Value { Value::Null } }

#[derive(Debug)]
pub struct Error;
impl fmt::Display for Error {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result { Ok(()) }
}
impl std::error::Error for Error {}
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub fn to_string<T: ?Sized>(_value: &T) -> Result<String> { Err(Error) }
pub fn to_string_pretty<T: ?Sized>(_value: &T) -> Result<String> { Err(Error) }
pub fn to_value<T>(_value: T) -> Result<Value> { Err(Error) }
pub fn from_str<T>(_s: &str) -> Result<T> { Err(Error) }
pub fn from_value<T>(_value: Value) -> Result<T> { Err(Error) }

#[macro_export]
macro_rules! json {
    ($($t:tt)*) => { $crate::Value::Null };
}
