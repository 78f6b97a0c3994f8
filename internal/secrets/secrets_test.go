package secrets_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/secrets"
)

func mustKey(t *testing.T) string {
	t.Helper()
	k, err := secrets.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k, err := secrets.Parse(mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"basic_auth_password":"hunter2"}`)
	sealed := k.Seal(plain, []byte("row-1"))
	if strings.Contains(sealed, "hunter2") || !strings.HasPrefix(sealed, "enc1:") {
		t.Fatalf("sealed value %q", sealed)
	}
	if again := k.Seal(plain, []byte("row-1")); again == sealed {
		t.Error("two seals of the same value are equal: the nonce is not random")
	}
	got, err := k.Open(sealed, []byte("row-1"))
	if err != nil || string(got) != string(plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := k.Open(sealed, []byte("row-2")); err == nil {
		t.Error("a value sealed for one row opened for another")
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := k.Open(tampered, []byte("row-1")); err == nil {
		t.Error("a tampered value opened")
	}
	if got, err := k.Open("plain text", nil); err != nil || string(got) != "plain text" {
		t.Errorf("a value written before encryption: %q, %v", got, err)
	}
	for _, bad := range []string{"enc1:nokey", "enc1:abcd:!!!", "enc1:abcd:AA"} {
		if _, err := k.Open(bad, nil); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKey := mustKey(t), mustKey(t)
	old, _ := secrets.Parse(oldKey)
	sealed := old.Seal([]byte("s"), nil)
	both, err := secrets.Parse(newKey + "," + oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := both.Open(sealed, nil); err != nil || string(got) != "s" {
		t.Fatalf("the old key no longer opens after rotation: %v", err)
	}
	if both.Current(sealed) {
		t.Error("a value sealed with the old key reported current")
	}
	resealed := both.Seal([]byte("s"), nil)
	if !both.Current(resealed) {
		t.Error("a fresh seal is not current")
	}
	onlyNew, _ := secrets.Parse(newKey)
	if _, err := onlyNew.Open(sealed, nil); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Errorf("open with a keyring lacking the key: %v, want ErrUnknownKey", err)
	}
	if got, err := onlyNew.Open(resealed, nil); err != nil || string(got) != "s" {
		t.Errorf("resealed value with the new key alone: %v", err)
	}
}

func TestParseRefusesBadKeys(t *testing.T) {
	for _, spec := range []string{"", " , ", "not-base64!", "c2hvcnQ=", mustKey(t) + ",short"} {
		if _, err := secrets.Parse(spec); err == nil {
			t.Errorf("Parse(%q) accepted", spec)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	k1, created, err := secrets.Load("", dir)
	if err != nil || !created {
		t.Fatalf("first Load: created %v, %v", created, err)
	}
	info, err := os.Stat(filepath.Join(dir, secrets.KeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, info.Mode().Perm())
	}
	k2, created, err := secrets.Load("", dir)
	if err != nil || created {
		t.Fatalf("second Load: created %v, %v", created, err)
	}
	if got, err := k2.Open(k1.Seal([]byte("x"), nil), nil); err != nil || string(got) != "x" {
		t.Error("the key file does not hold the same key across loads")
	}
	env := mustKey(t)
	k3, created, err := secrets.Load(env, t.TempDir())
	if err != nil || created {
		t.Fatalf("Load from the environment: created %v, %v", created, err)
	}
	if _, err := k3.Open(k1.Seal([]byte("x"), nil), nil); err == nil {
		t.Error("the environment key opened a value of the file key")
	}
	if err := os.WriteFile(filepath.Join(dir, secrets.KeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := secrets.Load("", dir); err == nil {
		t.Error("a corrupt key file was accepted")
	}
}
