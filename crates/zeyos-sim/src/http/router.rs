//! Routing: which operation a method and path name.
//!
//! Routes are generated from the schema's endpoint list for each entity:
//! `/{instance}/auth/v1/login`, `/{instance}/api/v1/{config|settings}`,
//! `/{instance}/api/v1/{entity}` and `/{instance}/api/v1/{entity}/{ID}`.
//! Trailing and doubled slashes are ignored.

use http::Method;
use zeyos_schema::Entity;

use crate::error::{ApiError, ApiResult};

/// A resolved request target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Route {
    /// `POST /{instance}/auth/v1/login`.
    Login,
    /// `GET /config`.
    Config,
    /// `GET /settings`.
    Settings,
    /// `POST /{entity}`.
    List(&'static Entity),
    /// `PUT /{entity}`.
    Create(&'static Entity),
    /// `GET /{entity}/{ID}`.
    Get(&'static Entity, i64),
    /// `HEAD /{entity}/{ID}`.
    Head(&'static Entity, i64),
    /// `PATCH /{entity}/{ID}`.
    Update(&'static Entity, i64),
    /// `DELETE /{entity}/{ID}`.
    Delete(&'static Entity, i64),
}

impl Route {
    /// Whether the route needs a bearer token.
    pub fn needs_token(&self) -> bool {
        *self != Route::Login
    }

    /// The entity and whether the operation writes, for permission checks.
    pub fn access(&self) -> Option<(&'static Entity, bool)> {
        match *self {
            Route::List(e) | Route::Get(e, _) | Route::Head(e, _) => Some((e, false)),
            Route::Create(e) | Route::Update(e, _) | Route::Delete(e, _) => Some((e, true)),
            Route::Login | Route::Config | Route::Settings => None,
        }
    }
}

/// What a path names before the method is considered.
enum Target<'p> {
    Login,
    Api(&'p [&'p str]),
}

/// Splits a path into its instance and target; 404 for another instance
/// or an unknown prefix.
fn target<'p>(segs: &'p [&'p str], instance: &str, path: &str) -> ApiResult<Target<'p>> {
    let not_found = || ApiError::NotFound(format!("No route for {path}"));
    let (inst, rest) = segs.split_first().ok_or_else(not_found)?;
    if *inst != instance {
        return Err(ApiError::NotFound(format!("Unknown instance '{inst}'")));
    }
    match rest {
        ["auth", "v1", "login"] => Ok(Target::Login),
        ["api", "v1", api @ ..] => Ok(Target::Api(api)),
        _ => Err(not_found()),
    }
}

/// Whether the path is an API path of the instance (so that a missing
/// token can be reported before routing errors, as ZeyOS does).
pub fn is_api(path: &str, instance: &str) -> bool {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    matches!(target(&segs, instance, path), Ok(Target::Api(_)))
}

fn not_allowed(method: &Method, path: &str, allow: Vec<&'static str>) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: path.to_string(),
        allow,
    }
}

/// Resolves a method and path to a route: 404 for unknown instances,
/// entities and paths, 405 for methods the reference does not list.
pub fn resolve(method: &Method, path: &str, instance: &str) -> ApiResult<Route> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let schema = zeyos_schema::schema();
    let entity = |name: &str| {
        schema
            .entity(name)
            .ok_or_else(|| ApiError::NotFound(format!("Unknown entity '{name}'")))
    };
    match target(&segs, instance, path)? {
        Target::Login if *method == Method::POST => Ok(Route::Login),
        Target::Login => Err(not_allowed(method, path, vec!["POST"])),
        Target::Api(["config"]) if *method == Method::GET => Ok(Route::Config),
        Target::Api(["settings"]) if *method == Method::GET => Ok(Route::Settings),
        Target::Api(["config" | "settings"]) => Err(not_allowed(method, path, vec!["GET"])),
        Target::Api([name]) => {
            let e = entity(name)?;
            let ep = e.endpoints;
            match *method {
                Method::POST if ep.list => Ok(Route::List(e)),
                Method::PUT if ep.create => Ok(Route::Create(e)),
                _ => {
                    let allow = [(ep.list, "POST"), (ep.create, "PUT")];
                    Err(not_allowed(method, path, allowed(&allow)))
                }
            }
        }
        Target::Api([name, id]) => {
            let e = entity(name)?;
            let ep = e.endpoints;
            let route = match *method {
                Method::GET if ep.get => Route::Get as fn(_, _) -> _,
                Method::HEAD if ep.head => Route::Head,
                Method::PATCH if ep.update => Route::Update,
                Method::DELETE if ep.delete => Route::Delete,
                _ => {
                    let allow = [
                        (ep.get, "GET"),
                        (ep.head, "HEAD"),
                        (ep.update, "PATCH"),
                        (ep.delete, "DELETE"),
                    ];
                    return Err(not_allowed(method, path, allowed(&allow)));
                }
            };
            let id: i64 = id
                .parse()
                .map_err(|_| ApiError::NotFound(format!("Invalid {} ID '{id}'", e.name)))?;
            Ok(route(e, id))
        }
        Target::Api(_) => Err(ApiError::NotFound(format!("No route for {path}"))),
    }
}

fn allowed(pairs: &[(bool, &'static str)]) -> Vec<&'static str> {
    pairs
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, m)| *m)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = |m: Method, p: &str| resolve(&m, p, "demo");
        assert!(
            matches!(r(Method::POST, "/demo/api/v1/accounts/"), Ok(Route::List(e)) if e.name == "accounts")
        );
        assert!(matches!(
            r(Method::PATCH, "/demo/api/v1/accounts/7"),
            Ok(Route::Update(_, 7))
        ));
        assert!(matches!(
            r(Method::POST, "/demo/auth/v1/login"),
            Ok(Route::Login)
        ));
        assert!(matches!(
            r(Method::GET, "//demo/api/v1/config/"),
            Ok(Route::Config)
        ));
        assert!(matches!(
            r(Method::PUT, "/demo/api/v1/users"),
            Err(ApiError::MethodNotAllowed { .. })
        ));
        assert!(matches!(
            r(Method::GET, "/demo/api/v1/links/1"),
            Err(ApiError::MethodNotAllowed { .. })
        ));
        assert!(matches!(
            r(Method::GET, "/other/api/v1/accounts/1"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            r(Method::GET, "/demo/api/v1/nope/1"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            r(Method::GET, "/demo/api/v1/accounts/x"),
            Err(ApiError::NotFound(_))
        ));
        assert!(is_api("/demo/api/v1/whatever/else", "demo"));
        assert!(!is_api("/demo/auth/v1/login", "demo"));
    }
}
