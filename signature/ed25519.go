package signature

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// NewKeyPair returns a fresh Ed25519 key pair: the secret key that signs
// ("whsk_" and the base64 of its seed), to be kept by the sender only, and
// the public key that verifies ("whpk_..."), to be given to receivers.
func NewKeyPair() (secretKey, publicKey string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("new key pair: %w", err)
	}
	return SecretKeyPrefix + base64.StdEncoding.EncodeToString(priv.Seed()), encodePublicKey(pub), nil
}

// PublicKey returns the whpk_ public key of a whsk_ secret key.
func PublicKey(secretKey string) (string, error) {
	priv, err := decodeSecretKey(secretKey)
	if err != nil {
		return "", err
	}
	return encodePublicKey(priv.Public().(ed25519.PublicKey)), nil
}

func encodePublicKey(pub ed25519.PublicKey) string {
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// decodeSecretKey reads a whsk_ key: the base64 of a 32-byte seed (the
// form of the specification and of NewKeyPair) or of a 64-byte private key.
func decodeSecretKey(key string) (ed25519.PrivateKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(key, SecretKeyPrefix))
	switch {
	case err != nil:
		return nil, ErrInvalidSecret
	case len(raw) == ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case len(raw) == ed25519.PrivateKeySize:
		priv := ed25519.PrivateKey(raw)
		// The second half must be the public key of the first.
		if !ed25519.NewKeyFromSeed(priv.Seed()).Equal(priv) {
			return nil, ErrInvalidSecret
		}
		return priv, nil
	default:
		return nil, ErrInvalidSecret
	}
}

func decodePublicKey(key string) (ed25519.PublicKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(key, PublicKeyPrefix))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, ErrInvalidSecret
	}
	return ed25519.PublicKey(raw), nil
}
