//! The platform tests: one binary, so the workspace links the whole platform once for all of them
//! (each test starts its own platform on ephemeral ports, so they stay independent).

mod common;

mod admin_clients;
mod admin_kobil;
mod admin_realms;
mod authorization_code;
mod browser_actions;
mod browser_login;
mod folio_tokens;
mod gateway_bearer;
mod gateway_cors;
mod key_rotation;
mod kobil_otp_lockout;
mod login_folio;
mod login_security;
mod mail_delivery;
mod mail_setup;
mod not_before;
mod oidc_metadata;
mod password_grant;
mod platform;
mod riskbits;
mod signature_algorithms;
mod token_client_credentials;
mod token_lifecycle;
mod users_groups;
mod users_kobil;
mod users_mail;
