//! `/api/v1/auth/*`: signing in and out, the TOTP second factor, the first
//! trust admin's set-up link and accepting a staff invitation.

use crate::clock::now_ms;
use crate::crypto::tokens::{dummy_password_hash, hash_password, verify_password};
use crate::crypto::totp;
use crate::error::AppError;
use crate::http::auth::{AnyStaffSession, ClientAddr, Staff};
use crate::http::json::Json;
use crate::http::openapi::{
    examples, Busy, Forbidden, Internal, PayloadTooLarge, TooManyAttempts, Unauthorized,
    UnsupportedMediaType,
};
use crate::state::AppState;
use crate::store::accounts::{self, UserRow};
use crate::store::audit::{Action, Entry};
use crate::store::limiter::{
    self, account_key, lookup_key, signin_key, wait_words, LOOKUPS_PER_ADDRESS, PER_ACCOUNT,
    PER_ADDRESS,
};
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use haven_core::accounts::password::check_new_password;
use haven_core::accounts::roles::{Role, RoleGrant};
use haven_core::api::accounts::{
    AcceptInvitationRequest, Me, SecondFactorState, SetupRequest, TotpConfirm, TotpRemove,
    TotpSetup,
};
use haven_core::api::{ApiError, LoginRequest, LoginResponse};

/// Signs in: a bearer token for `Authorization: Bearer ...`, valid for 12 hours.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    operation_id = "login",
    request_body(content = LoginRequest, example = json!(examples::login())),
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 400, description = "`bad_request`: malformed JSON, an unknown or missing field", body = ApiError),
        (status = 401, description = "`invalid_credentials`: the email or password is wrong; `second_factor_required`: send `totp_code` too; `second_factor_wrong`: the code is wrong or used", body = ApiError,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
        (status = 503, response = Busy),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    Json(request): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, AppError> {
    let now = now_ms();
    let email = request.email.trim().to_lowercase();
    let account_key = account_key(&email);
    let address_key = signin_key(&client.0);
    // Counted before the password is checked, under one lock: of fifty
    // guesses sent at once, only as many as the limit leaves reach the hash,
    // and every one of them counts. A right password hands its count back.
    let attempt = limiter::attempt(
        &state.pool,
        &[(&account_key, PER_ACCOUNT), (&address_key, PER_ADDRESS)],
        now,
    )
    .await?;
    let counted = match attempt {
        Ok(counted) => counted,
        Err((which, wait)) => {
            let whose = if which == 0 {
                "for this account"
            } else {
                "from this network"
            };
            Entry::new("anonymous", Action::SignInRefusedRateLimit)
                .subject(&email)
                .client(&client)
                .write(&state.pool)
                .await?;
            return Err(AppError::TooManyAttempts {
                message: format!(
                    "Too many failed sign-ins {whose}. Try again in {}, or ask your trust admin \
                 to reset your password.",
                    wait_words(wait)
                ),
                retry_after_ms: wait,
            });
        }
    };
    let (account_count, address_count) = (counted.row(0), counted.row(1));

    let user = accounts::user_by_email(&state.pool, &email)
        .await?
        .filter(|u| u.active);
    // An unknown email is checked against a dummy hash so that it takes as long
    // to refuse as a wrong password and does not reveal which emails exist.
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    let password = request.password;
    let checked = state
        .hashing
        .run(move || match stored_hash {
            Some(stored) => verify_password(&password, &stored),
            None => {
                verify_password(&password, dummy_password_hash());
                false
            }
        })
        .await;
    let matches = match checked {
        Ok(matches) => matches,
        // Nothing was checked (the server is busy): nothing counts.
        Err(e) => {
            limiter::forgive(&state.pool, account_count).await?;
            limiter::forgive(&state.pool, address_count).await?;
            return Err(e);
        }
    };
    let user = match (user, matches) {
        (Some(user), true) => user,
        _ => {
            Entry::new("anonymous", Action::SignInFailed)
                .subject(&email)
                .client(&client)
                .write(&state.pool)
                .await?;
            return Err(AppError::InvalidCredentials);
        }
    };

    // The password was right: the address's count goes back at once; the
    // account's waits for the second factor, so guesses at a code count too.
    limiter::forgive(&state.pool, address_count).await?;
    let second_factor = match &user.totp_sealed {
        Some(sealed) => {
            let Some(code) = request
                .totp_code
                .as_deref()
                .filter(|c| !c.trim().is_empty())
            else {
                limiter::forgive(&state.pool, account_count).await?;
                return Err(AppError::SecondFactorRequired);
            };
            check_totp(&state, &user, sealed, code, now, &client).await?;
            SecondFactorState::Done
        }
        None => SecondFactorState::NotNeeded,
    };
    let grants = crate::store::accounts::grants(&state.pool, &user.id).await?;
    let settings = accounts::settings(&state.pool).await?;
    let second_factor = if second_factor == SecondFactorState::NotNeeded
        && accounts::second_factor_required(&settings, &grants)
    {
        SecondFactorState::EnrolRequired
    } else {
        second_factor
    };

    let mut tx = state.pool.begin().await?;
    let (token, expires_at) = accounts::start_session(
        &mut tx,
        &user.id,
        second_factor == SecondFactorState::EnrolRequired,
    )
    .await?;
    Entry::new(format!("user:{}", user.id), Action::SignIn)
        .subject(&email)
        .client(&client)
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    limiter::clear(&state.pool, &account_key).await?;
    tracing::info!(user_id = %user.id, "signed in");
    Ok(Json(
        session_response(&state, &user.id, token, expires_at, second_factor).await?,
    ))
}

/// Checks a TOTP code against the sealed secret and uses up its time step.
async fn check_totp(
    state: &AppState,
    user: &UserRow,
    sealed: &str,
    code: &str,
    now: i64,
    client: &ClientAddr,
) -> Result<(), AppError> {
    let secret = state
        .key
        .open(sealed, &totp_context(&user.id))
        .ok_or_else(|| {
            AppError::Internal(format!(
                "the TOTP secret of {} cannot be opened with this server key",
                user.id
            ))
        })?;
    match totp::verify(&secret, code, now, user.totp_last_step) {
        Some(step) => accounts::use_totp_step(&state.pool, &user.id, step).await,
        None => {
            // The attempt was counted against the account before the password
            // was checked ([`login`]) and stays counted.
            Entry::new(format!("user:{}", user.id), Action::SecondFactorFailed)
                .client(client)
                .write(&state.pool)
                .await?;
            Err(AppError::SecondFactorWrong)
        }
    }
}

fn totp_context(user_id: &str) -> String {
    format!("totp:{user_id}")
}

async fn session_response(
    state: &AppState,
    user_id: &str,
    token: String,
    expires_at: i64,
    second_factor: SecondFactorState,
) -> Result<LoginResponse, AppError> {
    let member = accounts::staff_member(&state.pool, user_id).await?;
    Ok(LoginResponse {
        token,
        expires_at,
        me: accounts::me(&member),
        second_factor,
        online_key: base64::engine::general_purpose::STANDARD.encode(state.key.online_key(user_id)),
    })
}

/// Ends this session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    operation_id = "logout",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    client: ClientAddr,
    AnyStaffSession(staff): AnyStaffSession,
) -> Result<StatusCode, AppError> {
    let mut tx = state.pool.begin().await?;
    accounts::end_session(&mut *tx, &staff.session_digest).await?;
    Entry::new(staff.actor(), Action::SignOut)
        .client(&client)
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the signed-in person, on every device.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout-everywhere",
    tag = "auth",
    operation_id = "logout_everywhere",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session ended"),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn logout_everywhere(
    State(state): State<AppState>,
    client: ClientAddr,
    AnyStaffSession(staff): AnyStaffSession,
) -> Result<StatusCode, AppError> {
    let mut tx = state.pool.begin().await?;
    let ended = accounts::end_sessions_of(&mut *tx, &staff.user_id).await?;
    Entry::new(staff.actor(), Action::SignOutEverywhere)
        .client(&client)
        .detail(format!("{ended} sessions ended"))
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who is signed in, with their roles.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    operation_id = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in person", body = Me),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn me(
    State(state): State<AppState>,
    AnyStaffSession(staff): AnyStaffSession,
) -> Result<Json<Me>, AppError> {
    let member = accounts::staff_member(&state.pool, &staff.user_id).await?;
    Ok(Json(accounts::me(&member)))
}

/// Starts setting up an authenticator app: a new secret, which takes effect
/// once a code from it is confirmed.
#[utoipa::path(
    post,
    path = "/api/v1/auth/totp/setup",
    tag = "auth",
    operation_id = "totp_setup",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The secret, as text and as an otpauth link", body = TotpSetup),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 500, response = Internal),
    )
)]
pub async fn totp_setup(
    State(state): State<AppState>,
    AnyStaffSession(staff): AnyStaffSession,
) -> Result<Json<TotpSetup>, AppError> {
    let secret = totp::new_secret();
    let sealed = state.key.seal(&secret, &totp_context(&staff.user_id));
    accounts::set_pending_totp(&state.pool, &staff.user_id, &sealed).await?;
    let trust = crate::store::org::trust_name(&state.pool).await?;
    let issuer = format!("Haven {}", trust.unwrap_or_default());
    Ok(Json(TotpSetup {
        secret: totp::secret_base32(&secret),
        otpauth_uri: totp::otpauth_uri(&secret, issuer.trim(), &staff.email),
    }))
}

/// Confirms the authenticator app with its current code; from then on
/// sign-in needs a code, and a limited session becomes a full one. A code
/// that does not match is a 401 `second_factor_wrong`. Replacing an app
/// already in use also needs a code from that one (`current_code`).
#[utoipa::path(
    post,
    path = "/api/v1/auth/totp/confirm",
    tag = "auth",
    operation_id = "totp_confirm",
    security(("bearer" = [])),
    request_body(content = TotpConfirm, example = json!({"code": "123456"})),
    responses(
        (status = 204, description = "The second factor is on"),
        (status = 400, description = "`bad_request`: malformed JSON; `no_totp_setup`: call /auth/totp/setup first; `current_code_required`: replacing an authenticator app needs a code from the current one", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    )
)]
pub async fn totp_confirm(
    State(state): State<AppState>,
    client: ClientAddr,
    AnyStaffSession(staff): AnyStaffSession,
    Json(request): Json<TotpConfirm>,
) -> Result<StatusCode, AppError> {
    let (pending, current, last_step) = accounts::totp_secrets(&state.pool, &staff.user_id).await?;
    // Replacing a second factor needs a code from the one in use.
    if let Some(current) = current {
        let Some(current_code) = request.current_code.as_deref() else {
            return Err(AppError::Invalid {
                code: "current_code_required",
                message: "you already have an authenticator app: to replace it, also enter a \
                          code from the one you use now (current_code); if you no longer have \
                          it, ask your trust admin to reset your second factor"
                    .into(),
            });
        };
        // Guessing at the code in use is refused once the address has
        // failed too often, as for the look-ups it is counted with.
        guard_address(&state, &client).await?;
        let current = state
            .key
            .open(&current, &totp_context(&staff.user_id))
            .ok_or_else(|| AppError::Internal("the TOTP secret cannot be opened".into()))?;
        if totp::verify(&current, current_code, now_ms(), last_step.unwrap_or(0)).is_none() {
            limiter::fail(&state.pool, &lookup_key(&client.0), now_ms()).await?;
            return Err(AppError::SecondFactorWrong);
        }
    }
    let pending = pending.ok_or(AppError::Invalid {
        code: "no_totp_setup",
        message: "start with POST /api/v1/auth/totp/setup, then confirm a code".into(),
    })?;
    let secret = state
        .key
        .open(&pending, &totp_context(&staff.user_id))
        .ok_or_else(|| AppError::Internal("the pending TOTP secret cannot be opened".into()))?;
    // A signed-in person mistyping a code from their own new secret guesses
    // nothing; counted with the look-ups, it cannot touch anyone's sign-in.
    let Some(step) = totp::verify(&secret, &request.code, now_ms(), 0) else {
        limiter::fail(&state.pool, &lookup_key(&client.0), now_ms()).await?;
        return Err(AppError::SecondFactorWrong);
    };
    let mut tx = state.pool.begin().await?;
    accounts::confirm_totp(&mut tx, &staff.user_id, step, &staff.session_digest).await?;
    Entry::new(staff.actor(), Action::SecondFactorEnrolled)
        .client(&client)
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the signed-in person's authenticator app, with a code from it;
/// from then on sign-in needs the password only. Refused while the trust
/// requires a second factor for one of their roles (they may replace it
/// instead, with /auth/totp/confirm). A wrong code is a 401
/// `second_factor_wrong`, counted with the look-ups from that address.
#[utoipa::path(
    post,
    path = "/api/v1/auth/totp/remove",
    tag = "auth",
    operation_id = "totp_remove",
    security(("bearer" = [])),
    request_body(content = TotpRemove, example = json!({"current_code": "123456"})),
    responses(
        (status = 204, description = "The authenticator app is removed"),
        (status = 400, description = "`bad_request`: malformed JSON or no `current_code`; `no_second_factor`: there is no authenticator app to remove; `second_factor_required`: the trust requires one for one of your roles", body = ApiError),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, description = "`second_factor_changed`: the authenticator app was replaced or reset while this was sent", body = ApiError),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
    )
)]
pub async fn totp_remove(
    State(state): State<AppState>,
    client: ClientAddr,
    Staff(staff): Staff,
    Json(request): Json<TotpRemove>,
) -> Result<StatusCode, AppError> {
    let (current, last_step) = accounts::current_totp(&state.pool, &staff.user_id).await?;
    let current = current.ok_or(AppError::Invalid {
        code: "no_second_factor",
        message: "you have no authenticator app to remove".into(),
    })?;
    let settings = accounts::settings(&state.pool).await?;
    if accounts::second_factor_required(&settings, &staff.grants) {
        let roles: Vec<&str> = staff
            .grants
            .0
            .iter()
            .filter(|g| settings.second_factor_required.contains(&g.role))
            .map(|g| g.role.label())
            .collect();
        return Err(AppError::Invalid {
            code: "second_factor_required",
            message: format!(
                "your trust requires an authenticator app for your role ({}), so it cannot be \
                 removed; you can replace it with a new one instead",
                roles.join(", ")
            ),
        });
    }
    // A session left open must not let anyone guess at the code without end.
    guard_address(&state, &client).await?;
    let secret = state
        .key
        .open(&current, &totp_context(&staff.user_id))
        .ok_or_else(|| AppError::Internal("the TOTP secret cannot be opened".into()))?;
    if totp::verify(&secret, &request.current_code, now_ms(), last_step).is_none() {
        limiter::fail(&state.pool, &lookup_key(&client.0), now_ms()).await?;
        Entry::new(staff.actor(), Action::SecondFactorFailed)
            .client(&client)
            .detail("removing the authenticator app")
            .write(&state.pool)
            .await?;
        return Err(AppError::SecondFactorWrong);
    }
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    // Only the app that was checked: one set up (or reset) meanwhile stays.
    let removed = accounts::remove_totp(&mut *tx, &staff.user_id, &current).await?;
    if removed == 0 {
        return Err(AppError::Conflict {
            code: "second_factor_changed",
            message: "your authenticator app changed while this was sent; reload the page".into(),
        });
    }
    Entry::new(staff.actor(), Action::SecondFactorRemoved)
        .client(&client)
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Refuses link and code guessing from one address once it has failed too
/// often. Public look-ups have their own budget per address
/// ([`LOOKUPS_PER_ADDRESS`]), apart from sign-in's, so guessing receipt codes
/// or links never locks staff at that address out of signing in.
pub(crate) async fn guard_address(state: &AppState, client: &ClientAddr) -> Result<(), AppError> {
    limiter::check(
        &state.pool,
        &lookup_key(&client.0),
        LOOKUPS_PER_ADDRESS,
        now_ms(),
    )
    .await?
    .map_err(|wait| AppError::TooManyAttempts {
        message: format!(
            "Too many wrong codes or links from this network. Try again in {}.",
            wait_words(wait)
        ),
        retry_after_ms: wait,
    })
}

/// Counts a failed link or code against the caller's address's look-ups.
/// It writes on a connection of its own: call it with no write transaction
/// open, or the two wait for each other (SQLite's lock, or the advisory one).
pub(crate) async fn count_failure<T>(
    state: &AppState,
    client: &ClientAddr,
    result: Result<T, AppError>,
) -> Result<T, AppError> {
    if let Err(AppError::NotFound(_) | AppError::LinkUsed | AppError::LinkExpired) = &result {
        limiter::fail(&state.pool, &lookup_key(&client.0), now_ms()).await?;
    }
    result
}

fn password_problem(e: haven_core::accounts::password::PasswordProblem) -> AppError {
    AppError::Invalid {
        code: "weak_password",
        message: e.to_string(),
    }
}

async fn hash(state: &AppState, password: String) -> Result<String, AppError> {
    state.hashing.run(move || hash_password(&password)).await?
}

/// Sets up the first trust admin from the one-time link printed at first start.
#[utoipa::path(
    post,
    path = "/api/v1/auth/setup",
    tag = "auth",
    operation_id = "setup",
    request_body(content = SetupRequest),
    responses(
        (status = 200, description = "The first trust admin, signed in", body = LoginResponse),
        (status = 400, description = "`bad_request`; `invalid_email`; `weak_password`: the message says what to change", body = ApiError),
        (status = 404, description = "`not_found`: the link is not known", body = ApiError),
        (status = 409, description = "`already_set_up`: a trust admin exists", body = ApiError),
        (status = 410, description = "`link_used` or `link_expired`", body = ApiError),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
        (status = 503, response = Busy),
    )
)]
pub async fn setup(
    State(state): State<AppState>,
    client: ClientAddr,
    Json(request): Json<SetupRequest>,
) -> Result<Json<LoginResponse>, AppError> {
    guard_address(&state, &client).await?;
    let email = haven_core::accounts::normalise_email(&request.email).map_err(|message| {
        AppError::Invalid {
            code: "invalid_email",
            message,
        }
    })?;
    let name = haven_core::accounts::clean(&request.name);
    if name.is_empty() {
        return Err(AppError::Invalid {
            code: "invalid_name",
            message: "enter your name".into(),
        });
    }
    check_new_password(&request.password, &email, &name).map_err(password_problem)?;
    let password_hash = hash(&state, request.password).await?;
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    let used = accounts::use_account_link(&mut tx, "setup", &request.token).await;
    if let Err(refusal) = used {
        // Give up the write lock first: the failure is counted on its own.
        tx.rollback().await?;
        return count_failure(&state, &client, Err(refusal)).await;
    }
    let admins = accounts::trust_admin_count(&mut *tx).await?;
    if admins > 0 {
        return Err(AppError::Conflict {
            code: "already_set_up",
            message: "Haven already has a trust admin; ask them for an invitation".into(),
        });
    }
    let grants = [RoleGrant {
        role: Role::TrustAdmin,
        academy_id: None,
    }];
    let user_id = accounts::create_user(&mut tx, &name, &email, &password_hash, &grants)
        .await?
        .to_string();
    let (token, expires_at) = accounts::start_session(&mut tx, &user_id, false).await?;
    Entry::new(format!("user:{user_id}"), Action::FirstAdminSetUp)
        .subject(&email)
        .client(&client)
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(
        session_response(
            &state,
            &user_id,
            token,
            expires_at,
            SecondFactorState::NotNeeded,
        )
        .await?,
    ))
}

/// Accepts a staff invitation: the invited person chooses their password.
#[utoipa::path(
    post,
    path = "/api/v1/auth/invitations/accept",
    tag = "auth",
    operation_id = "accept_invitation",
    request_body(content = AcceptInvitationRequest),
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 400, description = "`bad_request`; `weak_password`: the message says what to change", body = ApiError),
        (status = 404, description = "`not_found`: the link is not known", body = ApiError),
        (status = 410, description = "`link_used` or `link_expired`", body = ApiError),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, response = TooManyAttempts),
        (status = 500, response = Internal),
        (status = 503, response = Busy),
    )
)]
pub async fn accept_invitation(
    State(state): State<AppState>,
    client: ClientAddr,
    Json(request): Json<AcceptInvitationRequest>,
) -> Result<Json<LoginResponse>, AppError> {
    guard_address(&state, &client).await?;
    let mut tx = crate::store::db::begin_write(&state.pool).await?;
    let used = accounts::use_account_link(&mut tx, "staff_invitation", &request.token).await;
    let user_id = match used {
        Ok(user_id) => {
            user_id.ok_or_else(|| AppError::Internal("a staff invitation without a user".into()))?
        }
        Err(refusal) => {
            // Give up the write lock first: the failure is counted on its own.
            tx.rollback().await?;
            return count_failure(&state, &client, Err(refusal)).await;
        }
    };
    let user = accounts::user_by_id(&state.pool, &user_id)
        .await?
        .filter(|u| u.active)
        .ok_or(AppError::LinkExpired)?;
    // Checked before anything is written, so a weak password leaves the link usable.
    check_new_password(&request.password, &user.email, &user.name).map_err(password_problem)?;
    let password_hash = hash(&state, request.password).await?;
    accounts::set_password_hash(&mut *tx, &user_id, &password_hash).await?;
    let grants = crate::store::accounts::grants(&state.pool, &user_id).await?;
    let settings = accounts::settings(&state.pool).await?;
    let second_factor = if accounts::second_factor_required(&settings, &grants) {
        SecondFactorState::EnrolRequired
    } else {
        SecondFactorState::NotNeeded
    };
    let (token, expires_at) = accounts::start_session(
        &mut tx,
        &user_id,
        second_factor == SecondFactorState::EnrolRequired,
    )
    .await?;
    Entry::new(format!("user:{user_id}"), Action::InvitationAccepted)
        .client(&client)
        .write(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(
        session_response(&state, &user_id, token, expires_at, second_factor).await?,
    ))
}
