//! `/todos`: CRUD under `#[authenticate("session", "jwt", "opaque", "token-basic", "api-key")]`, scoped to the caller.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use auth_core::UserProfile;
use auth_macros::authenticate;
use serde_json::json;

use crate::error::ApiError;
use crate::todos::{NewTodo, TodoPatch, Todos};

/// `GET /todos`: the caller's todos.
#[authenticate("session", "jwt", "opaque", "token-basic", "api-key")]
#[get("/todos")]
async fn list(user: UserProfile, todos: web::Data<Todos>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(todos.list(&user.id).await?))
}

/// `GET /todos/count`: how many todos the caller has.
#[authenticate("session", "jwt", "opaque", "token-basic", "api-key")]
#[get("/todos/count")]
async fn count(user: UserProfile, todos: web::Data<Todos>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(json!({"count": todos.count(&user.id).await?})))
}

/// `GET /todos/{id}`: one of the caller's todos (another user's is 404).
#[authenticate("session", "jwt", "opaque", "token-basic", "api-key")]
#[get("/todos/{id}")]
async fn get_one(
    user: UserProfile,
    id: web::Path<i64>,
    todos: web::Data<Todos>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(todos.get(&user.id, id.into_inner()).await?))
}

/// `POST /todos`: creates a todo.
#[authenticate("session", "jwt", "opaque", "token-basic", "api-key")]
#[post("/todos")]
async fn create(
    user: UserProfile,
    body: web::Json<NewTodo>,
    todos: web::Data<Todos>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(todos.create(&user.id, body.into_inner()).await?))
}

/// `PUT /todos/{id}`: replaces a todo.
#[authenticate("session", "jwt", "opaque", "token-basic", "api-key")]
#[put("/todos/{id}")]
async fn replace(
    user: UserProfile,
    id: web::Path<i64>,
    body: web::Json<NewTodo>,
    todos: web::Data<Todos>,
) -> Result<HttpResponse, ApiError> {
    let todo = todos
        .replace(&user.id, id.into_inner(), body.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(todo))
}

/// `PATCH /todos/{id}`: changes some fields of a todo.
#[authenticate("session", "jwt", "opaque", "token-basic", "api-key")]
#[patch("/todos/{id}")]
async fn update(
    user: UserProfile,
    id: web::Path<i64>,
    body: web::Json<TodoPatch>,
    todos: web::Data<Todos>,
) -> Result<HttpResponse, ApiError> {
    let todo = todos
        .patch(&user.id, id.into_inner(), body.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(todo))
}

/// `DELETE /todos/{id}`: deletes a todo (204).
#[authenticate("session", "jwt", "opaque", "token-basic", "api-key")]
#[delete("/todos/{id}")]
async fn remove(
    user: UserProfile,
    id: web::Path<i64>,
    todos: web::Data<Todos>,
) -> Result<HttpResponse, ApiError> {
    todos.delete(&user.id, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the todo routes. `/todos/count` comes before `/todos/{id}` so
/// that "count" is never taken for an id.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(count)
        .service(get_one)
        .service(create)
        .service(replace)
        .service(update)
        .service(remove);
}
