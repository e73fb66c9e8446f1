//! The authorization endpoint (`/protocol/openid-connect/auth`, GET or form POST): checks
//! the request (`crate::authorize`), then signs the browser in with its live sign-in or
//! shows the tenant's login page. Every error before the redirect URI is trusted is a page.

use actix_web::{HttpRequest, HttpResponse, web};
use idp_shared::names::now_millis;

use crate::authorize::{self, Params, Refusal};
use crate::login_attempts;
use crate::pages::{self, PageError};
use crate::{State, clients, login_flow, required_actions, sso, tenants, users};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/realms/{realm}/protocol/openid-connect/auth")
            .app_data(pages::query_config())
            .app_data(pages::form_config(64 * 1024))
            .route(web::get().to(get))
            .route(web::post().to(post)),
    );
}

async fn get(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    authorization(&req, &state, &realm, query.into_inner()).await
}

/// OIDC Core §3.1.2.1: the same request as a form post.
async fn post(
    req: HttpRequest,
    state: web::Data<State>,
    realm: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    authorization(&req, &state, &realm, form.into_inner()).await
}

async fn authorization(
    req: &HttpRequest,
    state: &State,
    realm: &str,
    pairs: Vec<(String, String)>,
) -> Result<HttpResponse, PageError> {
    let tenant = tenants::enabled_tenant(state, realm).await?;
    let in_realm = |e: PageError| e.in_realm(&tenant.display_name);
    let params = Params::from_pairs(pairs).map_err(in_realm)?;
    let client_id = params
        .get("client_id")
        .ok_or_else(|| in_realm(PageError::bad_request("Missing parameter: client_id")))?;
    let client = clients::lookup(state, &tenant.name, client_id)
        .await?
        .filter(|c| c.client.enabled && !c.client.bearer_only)
        .ok_or_else(|| in_realm(PageError::bad_request("Client not found.")))?;
    let destination = authorize::trusted_destination(&params, &client).map_err(in_realm)?;
    let issuer = state.issuer(&tenant.name);
    let refuse = |refusal: &Refusal| {
        authorize::refusal(&destination, &issuer, &tenant.display_name, refusal)
    };
    let (request, prompting) = match authorize::validate(&params, &client, destination.clone()) {
        Ok(valid) => valid,
        Err(refusal) => return Ok(refuse(&refusal)),
    };
    let now = now_millis();

    // The browser's live sign-in stands in for the password unless the app wants a fresh one.
    let signed_in = sso::current(state, &tenant, req, now).await?.filter(|s| {
        !prompting.force_login
            && prompting
                .max_age_secs
                .is_none_or(|max| now - s.authenticated_at <= max.saturating_mul(1000))
    });
    if let Some(sign_in) = signed_in
        && let Some(user) = users::by_id(state, &tenant.name, &sign_in.user_id)
            .await?
            .filter(|u| u.enabled)
    {
        let actions = required_actions::pending(state, &tenant, &user, false)
            .await
            .map_err(in_realm)?;
        if actions.is_empty() {
            return login_flow::complete(
                state,
                req,
                &tenant,
                &request,
                &user,
                Some(&sign_in.id),
                now,
            )
            .await
            .map_err(in_realm);
        }
        if prompting.no_interaction {
            return Ok(refuse(&Refusal {
                error: "interaction_required",
                description: "The user has actions to complete".into(),
            }));
        }
        let mut started = login_attempts::start(
            state,
            &tenant,
            request,
            req,
            Some((user.id.clone(), sign_in.id.clone())),
            now,
        )
        .await?;
        started.attempt.pending_actions = actions;
        required_actions::begin_current(
            state,
            &tenant,
            &started.id,
            &mut started.attempt,
            &user,
            now,
        )
        .await?;
        login_attempts::save(state, &started.id, &started.attempt, now).await?;
        return login_flow::first_page(state, &tenant, &started, Some(&user)).map_err(in_realm);
    }
    if prompting.no_interaction {
        return Ok(refuse(&Refusal {
            error: "login_required",
            description: "Login required".into(),
        }));
    }
    let started = login_attempts::start(state, &tenant, request, req, None, now).await?;
    login_flow::first_page(state, &tenant, &started, None).map_err(in_realm)
}
