//! A router that keeps the paths it routes. axum cannot list a router's routes, and the
//! OpenAPI check (`gateway/tests/openapi.rs`) must know every path docflow serves to hold
//! `docs/openapi.json` to it: each module builds its routes with a [`RouteTable`] and
//! offers its `paths()` from the same table, so the check cannot miss a route.

use axum::Router;
use axum::routing::MethodRouter;

pub struct RouteTable<S = ()> {
    router: Router<S>,
    paths: Vec<&'static str>,
}

impl<S: Clone + Send + Sync + 'static> RouteTable<S> {
    pub fn new() -> RouteTable<S> {
        RouteTable { router: Router::new(), paths: Vec::new() }
    }

    /// [`Router::route`], remembering `path`.
    pub fn route(mut self, path: &'static str, method_router: MethodRouter<S>) -> RouteTable<S> {
        self.router = self.router.route(path, method_router);
        self.paths.push(path);
        self
    }

    /// The paths routed, as written (`/v1/documents/{id}`).
    pub fn paths(&self) -> Vec<&'static str> {
        self.paths.clone()
    }

    pub fn into_router(self) -> Router<S> {
        self.router
    }
}

impl<S: Clone + Send + Sync + 'static> Default for RouteTable<S> {
    fn default() -> Self {
        RouteTable::new()
    }
}
