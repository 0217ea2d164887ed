//! Entity extraction. PLACEHOLDER written by the lead only so the crate compiles while the
//! entities engineer works: replace this whole file (same public API as the brief).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Nik,
    Kpj,
    Email,
    Phone,
    Otp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    WrongLength,
    BadProvince,
    BadBirthDate,
    Malformed,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entity {
    #[serde(rename = "entity")]
    pub kind: EntityKind,
    pub value: String,
    pub start: usize,
    pub end: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

pub fn extract(_text: &str) -> Vec<Entity> {
    Vec::new()
}
