//! What a search looks for: `?email=` or `?name=`, checked, and its text made safe for
//! `LIKE`.

use http_api::ApiError;
use serde::Deserialize;

/// The longest search text, in characters.
pub const MAX_TEXT: usize = 100;

/// The search parameters of a query string, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    pub email: Option<String>,
    pub name: Option<String>,
}

/// A checked search: exactly one field, its text trimmed and 1 to [`MAX_TEXT`]
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchQuery {
    /// E-mail addresses equal to or starting with the text.
    Email(String),
    /// Names (first, last, or "first last") equal to, starting with or containing the text.
    Name(String),
}

/// A search that cannot run: `400 search.invalid_query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("give exactly one of `email` and `name`")]
    NotExactlyOneField,
    #[error("the search text is 1 to {MAX_TEXT} characters")]
    TextLength,
}

impl From<SearchError> for ApiError {
    fn from(err: SearchError) -> Self {
        ApiError::bad_request("search.invalid_query", err.to_string())
    }
}

impl SearchQuery {
    /// The search `params` ask for.
    pub fn parse(params: SearchParams) -> Result<Self, SearchError> {
        let query = match (params.email, params.name) {
            (Some(email), None) => Self::Email(checked(&email)?),
            (None, Some(name)) => Self::Name(checked(&name)?),
            _ => return Err(SearchError::NotExactlyOneField),
        };
        Ok(query)
    }

    /// The text searched for.
    pub fn text(&self) -> &str {
        match self {
            Self::Email(text) | Self::Name(text) => text,
        }
    }
}

fn checked(text: &str) -> Result<String, SearchError> {
    let text = text.trim();
    if (1..=MAX_TEXT).contains(&text.chars().count()) {
        Ok(text.to_owned())
    } else {
        Err(SearchError::TextLength)
    }
}

/// `text` as a `LIKE` pattern that matches it literally, with `\` as the escape
/// character: a `%` or `_` a user types is not a wildcard.
pub fn like_literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(email: Option<&str>, name: Option<&str>) -> SearchParams {
        SearchParams {
            email: email.map(str::to_owned),
            name: name.map(str::to_owned),
        }
    }

    #[test]
    fn one_field_is_a_search_with_its_text_trimmed() {
        let query = SearchQuery::parse(params(None, Some("  Ada ")));
        assert_eq!(query, Ok(SearchQuery::Name("Ada".into())));
        let query = SearchQuery::parse(params(Some("ada@"), None));
        assert_eq!(query, Ok(SearchQuery::Email("ada@".into())));
    }

    #[test]
    fn both_fields_or_neither_are_refused() {
        for given in [params(None, None), params(Some("a"), Some("b"))] {
            assert_eq!(
                SearchQuery::parse(given),
                Err(SearchError::NotExactlyOneField)
            );
        }
    }

    #[test]
    fn blank_or_overlong_text_is_refused() {
        let long = "é".repeat(MAX_TEXT + 1);
        for text in ["", "   ", long.as_str()] {
            let query = SearchQuery::parse(params(None, Some(text)));
            assert_eq!(query, Err(SearchError::TextLength), "{text:?}");
        }
        let longest = "é".repeat(MAX_TEXT);
        assert!(SearchQuery::parse(params(None, Some(&longest))).is_ok());
    }

    #[test]
    fn like_wildcards_and_the_escape_character_are_escaped() {
        assert_eq!(like_literal(r"50%_off\now"), r"50\%\_off\\now");
        assert_eq!(like_literal("ada"), "ada");
    }
}
