fn main() -> std::process::ExitCode {
    idp_shared::service::main::<svc_tenants::State>()
}
