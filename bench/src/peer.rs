//! The peer to compare the token endpoint with: node-oidc-provider (npm `oidc-provider`, a
//! certified OpenID provider), installed into a temp dir with npm and started with one
//! confidential client and ES256 JWT access tokens.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::seed::SECRET;

const VERSION: &str = "9.13.3";

const SERVER: &str = r#"import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose';
const port = Number(process.argv[2]);
const secret = process.argv[3];
const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: 'es1' };
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{ client_id: 'bench-app', client_secret: secret, grant_types: ['client_credentials'],
    redirect_uris: [], response_types: [], id_token_signed_response_alg: 'ES256' }],
  jwks: { keys: [jwk] },
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:bench',
      getResourceServerInfo: () => ({ scope: 'api', accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } } }),
    },
  },
});
provider.listen(port, '127.0.0.1', () => console.log('ready'));
"#;

pub struct Peer {
    child: Child,
    dir: PathBuf,
    pub url: String,
}

impl Peer {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn start() -> Result<Peer, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let dir = std::env::temp_dir().join(format!("idp-bench-peer-{port}"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"peer","private":true,"type":"module"}"#,
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(dir.join("server.mjs"), SERVER).map_err(|e| e.to_string())?;
    println!("peer: installing oidc-provider@{VERSION} with npm");
    let installed = Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund"])
        .arg(format!("oidc-provider@{VERSION}"))
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("npm: {e}"))?;
    if !installed.success() {
        return Err(format!("npm install oidc-provider@{VERSION} failed"));
    }
    let child = Command::new("node")
        .arg("server.mjs")
        .arg(port.to_string())
        .arg(SECRET)
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("node: {e}"))?;
    let peer = Peer {
        child,
        dir,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    for _ in 0..500 {
        if http
            .get(format!("{}/.well-known/openid-configuration", peer.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(peer);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err("oidc-provider did not start".into())
}
