// Package images holds the integration tests of the images `make images`
// builds (demoapp:dev, scaler-nginx:dev, scaler-redis:dev): their
// configuration, and demoapp's behaviour in a container beside Redis. The
// tests need a Docker Engine and the images; they fail, not skip, without.
package images
