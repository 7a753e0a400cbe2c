//! The HTTP surface: the accept loop with its timeouts (`serve`), who is
//! calling (`auth`), the handlers, one file per resource (`routes`), the
//! OpenAPI document (`openapi`), JSON bodies and query strings that say what
//! is wrong (`json`, `query`), request ids (`request_id`), security headers
//! (`security_headers`), the PWA's files (`static_files`) and the pages sent
//! with their content (`prerender`). Handlers
//! extract, authorise, call a store module and answer; the SQL is in the
//! `store` folder beside this one.

pub mod auth;
pub mod json;
pub mod openapi;
pub mod prerender;
pub mod query;
pub mod request_id;
pub(crate) mod routes;
pub mod security_headers;
pub mod serve;
pub mod static_files;
