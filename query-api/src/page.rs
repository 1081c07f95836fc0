//! Pagination of list answers: `?limit=&offset=`, checked against each list's bounds.
//!
//! Every list orders its rows totally (its last sort key is a user id), so pages taken
//! one after the other neither repeat nor skip a row while the view stays unchanged.

use http_api::ApiError;
use serde::{Deserialize, Serialize};

/// The pagination parameters of a query string, as given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many items to answer; each list has its own default and maximum.
    pub limit: Option<i64>,
    /// How many items to skip first; 0 when absent.
    pub offset: Option<i64>,
}

/// The `limit` a list takes when none is given, and the largest it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub default_limit: i64,
    pub max_limit: i64,
}

/// A checked page: `limit` within its bounds, `offset` not negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// Why pagination parameters were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// `400 query.invalid_limit`.
    #[error("limit is 1 to {max}")]
    Limit { max: i64 },
    /// `400 query.invalid_offset`.
    #[error("offset is 0 or more")]
    Offset,
}

impl From<PageError> for ApiError {
    fn from(err: PageError) -> Self {
        let code = match err {
            PageError::Limit { .. } => "query.invalid_limit",
            PageError::Offset => "query.invalid_offset",
        };
        ApiError::bad_request(code, err.to_string())
    }
}

impl PageParams {
    /// The page these parameters ask for, within `bounds`.
    pub fn within(self, bounds: Bounds) -> Result<Page, PageError> {
        let limit = self.limit.unwrap_or(bounds.default_limit);
        if !(1..=bounds.max_limit).contains(&limit) {
            return Err(PageError::Limit {
                max: bounds.max_limit,
            });
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            return Err(PageError::Offset);
        }
        Ok(Page { limit, offset })
    }
}

/// A page of a list, as JSON: `{"items": [...], "total": n}`, where `total` counts every
/// item of the list, not only this page's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        default_limit: 20,
        max_limit: 100,
    };

    fn params(limit: Option<i64>, offset: Option<i64>) -> PageParams {
        PageParams { limit, offset }
    }

    #[test]
    fn absent_parameters_take_the_default_limit_from_the_start() {
        let page = PageParams::default().within(BOUNDS);
        assert_eq!(
            page,
            Ok(Page {
                limit: 20,
                offset: 0
            })
        );
    }

    #[test]
    fn a_limit_of_zero_or_above_the_maximum_is_refused() {
        for limit in [0, -1, 101] {
            let page = params(Some(limit), None).within(BOUNDS);
            assert_eq!(page, Err(PageError::Limit { max: 100 }), "{limit}");
        }
        assert!(params(Some(100), None).within(BOUNDS).is_ok());
    }

    #[test]
    fn a_negative_offset_is_refused() {
        assert_eq!(
            params(None, Some(-1)).within(BOUNDS),
            Err(PageError::Offset)
        );
    }
}
