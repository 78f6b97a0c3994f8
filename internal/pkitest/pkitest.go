// Package pkitest is a private certificate authority for tests: it issues
// server and client certificates (ECDSA P-256 or RSA, in the PEM forms
// Herald accepts) and starts TLS servers that require and verify client
// certificates, as a bank's webhook endpoint or token server would.
package pkitest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a certificate authority: a root, or an intermediate of its parent.
type CA struct {
	Cert *x509.Certificate
	key  crypto.Signer
	// PEM is the CA's certificate.
	PEM string
	// chain is the PEM of the intermediates between this CA and the root
	// (empty for a root), appended to the certificates it issues.
	chain string
}

// NewCA makes a root CA valid from an hour ago for ten years.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	return newCA(t, name, nil)
}

// Intermediate makes a CA signed by ca: the certificates it issues carry
// it in their chain.
func (ca *CA) Intermediate(t testing.TB, name string) *CA {
	t.Helper()
	return newCA(t, name, ca)
}

func newCA(t testing.TB, name string, parent *CA) *CA {
	t.Helper()
	key := newECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.Cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatalf("create CA %s: %v", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{Cert: cert, key: key, PEM: certPEM(der)}
	if parent != nil {
		ca.chain = ca.PEM + parent.chain
	}
	return ca
}

// Pool is a pool holding only the CA's certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issued is a certificate with its key.
type Issued struct {
	// CertPEM is the certificate followed by the issuer's intermediates;
	// KeyPEM its private key.
	CertPEM, KeyPEM string
	Cert            *x509.Certificate
	Pair            tls.Certificate
}

// Key forms of Options.
const (
	PKCS8 = "PRIVATE KEY"     // default
	PKCS1 = "RSA PRIVATE KEY" // RSA only
	SEC1  = "EC PRIVATE KEY"  // ECDSA only
)

// Options shape an issued certificate. Zero values: valid from an hour
// ago for a year, an ECDSA P-256 key in PKCS #8.
type Options struct {
	NotBefore, NotAfter time.Time
	RSA                 bool
	KeyForm             string
}

// Server issues a server certificate for hosts (IP addresses or DNS names).
func (ca *CA) Server(t testing.TB, hosts ...string) Issued {
	t.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: hosts[0]}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issue(t, tmpl, Options{})
}

// Client issues a client certificate for name.
func (ca *CA) Client(t testing.TB, name string, o Options) Issued {
	t.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: name}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	return ca.issue(t, tmpl, o)
}

func (ca *CA) issue(t testing.TB, tmpl *x509.Certificate, o Options) Issued {
	t.Helper()
	tmpl.SerialNumber = serial(t)
	tmpl.NotBefore, tmpl.NotAfter = o.NotBefore, o.NotAfter
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	var key crypto.Signer = newECKey(t)
	if o.RSA {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		t.Fatalf("issue %s: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	out := Issued{CertPEM: certPEM(der) + ca.chain, KeyPEM: KeyPEM(t, key, o.KeyForm), Cert: cert}
	if out.Pair, err = tls.X509KeyPair([]byte(out.CertPEM), []byte(out.KeyPEM)); err != nil {
		t.Fatal(err)
	}
	return out
}

// KeyPEM encodes key in form (PKCS8, PKCS1 or SEC1; "": PKCS8).
func KeyPEM(t testing.TB, key crypto.Signer, form string) string {
	t.Helper()
	var der []byte
	var err error
	switch form {
	case "", PKCS8:
		form = PKCS8
		der, err = x509.MarshalPKCS8PrivateKey(key)
	case PKCS1:
		der = x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))
	case SEC1:
		der, err = x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: form, Bytes: der}))
}

// Server is an HTTPS server requiring client certificates.
type Server struct {
	*httptest.Server
	handshakes atomic.Int32
}

// Handshakes counts the TLS handshakes that verified a client certificate.
func (s *Server) Handshakes() int { return int(s.handshakes.Load()) }

// NewServer starts an HTTPS server (HTTP/1.1 and HTTP/2) presenting
// server, which requires a client certificate verified against clients
// and refuses the handshake without one (quietly: tests provoke that on
// purpose). Its URL is https://127.0.0.1:port.
func NewServer(t testing.TB, h http.Handler, server Issued, clients ...*CA) *Server {
	t.Helper()
	s := &Server{Server: httptest.NewUnstartedServer(h)}
	pool := x509.NewCertPool()
	for _, ca := range clients {
		pool.AddCert(ca.Cert)
	}
	s.TLS = &tls.Config{
		Certificates: []tls.Certificate{server.Pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
		VerifyConnection: func(tls.ConnectionState) error {
			s.handshakes.Add(1)
			return nil
		},
	}
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func certPEM(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
