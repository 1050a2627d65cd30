//! Certificates for the TLS tests, made with rcgen: a CA, server
//! certificates for `localhost` and `127.0.0.1` it signs, and client
//! certificates for mutual TLS; written as PEM files where the server reads
//! them.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

/// A certificate and its private key, in PEM.
pub struct Issued {
    pub certificate_pem: String,
    pub key_pem: String,
    /// The certificate in DER, to compare with what a connection presents.
    pub der: Vec<u8>,
}

/// A certificate authority of the tests.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).unwrap(),
        }
    }

    /// The CA's certificate, in PEM (what clients trust).
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn issue(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose, common_name: &str) -> Issued {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            der: certificate.der().to_vec(),
        }
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    pub fn server(&self, common_name: &str) -> Issued {
        self.issue(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
            common_name,
        )
    }

    /// A client certificate (mutual TLS).
    pub fn client(&self, common_name: &str) -> Issued {
        self.issue(
            &["client.test"],
            ExtendedKeyUsagePurpose::ClientAuth,
            common_name,
        )
    }
}

/// Writes `contents` to `directory/name` and returns the path.
pub fn write(directory: &Path, name: &str, contents: &str) -> PathBuf {
    let path = directory.join(name);
    std::fs::write(&path, contents).expect("write a PEM file");
    path
}
