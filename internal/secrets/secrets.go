// Package secrets encrypts the secrets Herald keeps for its webhooks (signing
// secrets, basic-auth passwords, OAuth2 client secrets, custom header values)
// with AES-256-GCM before they reach the database. A keyring holds one or
// more keys: the first encrypts, any of them decrypts, so keys can be rotated
// without downtime.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvKey is the environment variable holding the keyring: comma-separated
// base64 keys of 32 bytes, the newest first.
const EnvKey = "HERALD_ENCRYPTION_KEY"

// KeyFile is the key file created in the data directory when EnvKey is unset.
const KeyFile = "encryption.key"

// prefix marks a sealed value; anything else is read as plaintext (rows
// written before encryption existed).
const prefix = "enc1:"

// ErrUnknownKey: a value was sealed with a key the keyring does not hold.
var ErrUnknownKey = errors.New("sealed with a key that is not in " + EnvKey)

// Keyring seals with its first key and opens with any.
type Keyring struct {
	keys []key
}

type key struct {
	id   string // first 8 hex digits of the key's SHA-256: names it in sealed values
	aead cipher.AEAD
}

// Parse reads a keyring: comma-separated base64 (standard or URL alphabet)
// keys of 32 bytes.
func Parse(spec string) (*Keyring, error) {
	k := &Keyring{}
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		raw, err := decodeKey(part)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("%s: key %d is not 32 bytes of base64", EnvKey, i+1)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		sum := sha256.Sum256(raw)
		k.keys = append(k.keys, key{id: hex.EncodeToString(sum[:4]), aead: aead})
	}
	if len(k.keys) == 0 {
		return nil, fmt.Errorf("%s holds no key", EnvKey)
	}
	return k, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// NewKey returns a fresh random key in the form Parse reads.
func NewKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Load returns the keyring of spec when it is not empty; otherwise the one in
// dataDir's key file, created (mode 0600) with a fresh key on first use.
// created reports that a new key file was written.
func Load(spec, dataDir string) (k *Keyring, created bool, err error) {
	if strings.TrimSpace(spec) != "" {
		k, err = Parse(spec)
		return k, false, err
	}
	path := filepath.Join(dataDir, KeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		fresh, err := NewKey()
		if err != nil {
			return nil, false, err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, false, fmt.Errorf("create data directory: %w", err)
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("create %s: %w", path, err)
		}
		_, werr := f.WriteString(fresh + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, false, fmt.Errorf("write %s: %w", path, werr)
		}
		k, err = Parse(fresh)
		return k, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	k, err = Parse(string(b))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return k, false, nil
}

// Seal encrypts plain, bound to aad (the row it belongs to, so a sealed value
// copied to another row does not open there).
func (k *Keyring) Seal(plain, aad []byte) string {
	current := k.keys[0]
	nonce := make([]byte, current.aead.NonceSize(), current.aead.NonceSize()+len(plain)+current.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("secrets: no randomness: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	sealed := current.aead.Seal(nonce, nonce, plain, aad)
	return prefix + current.id + ":" + base64.RawStdEncoding.EncodeToString(sealed)
}

// Open decrypts a value from Seal. A value without the sealed prefix is
// returned as it is (written before encryption was enabled).
func (k *Keyring) Open(value string, aad []byte) ([]byte, error) {
	rest, ok := strings.CutPrefix(value, prefix)
	if !ok {
		return []byte(value), nil
	}
	id, data, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, errors.New("secrets: malformed sealed value")
	}
	sealed, err := base64.RawStdEncoding.DecodeString(data)
	if err != nil {
		return nil, errors.New("secrets: malformed sealed value")
	}
	for _, kk := range k.keys {
		if kk.id != id {
			continue
		}
		n := kk.aead.NonceSize()
		if len(sealed) < n {
			return nil, errors.New("secrets: malformed sealed value")
		}
		plain, err := kk.aead.Open(nil, sealed[:n], sealed[n:], aad)
		if err != nil {
			return nil, errors.New("secrets: sealed value does not open (tampered, or moved from another row)")
		}
		return plain, nil
	}
	return nil, fmt.Errorf("secrets: key %s: %w", id, ErrUnknownKey)
}

// Current reports whether value is sealed with the keyring's first key (a
// re-encryption after rotation can skip it).
func (k *Keyring) Current(value string) bool {
	return strings.HasPrefix(value, prefix+k.keys[0].id+":")
}
