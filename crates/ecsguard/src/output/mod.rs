//! Renderers: a report in, a string out. None of them ever sees a secret value.

pub mod file_fix;
pub mod fix;
pub mod html;
pub mod json;
pub mod sarif;
pub mod text;
