// Command pinning-service serves the IPFS Pinning Service API (v1.0.0) of
// one cluster peer on top of its REST API (package psa). It runs in every
// task beside the cluster; the edge verifies clients' Bearer tokens and
// forwards with the REST API's Basic credentials, which this service
// requires.
//
// Inputs come from the environment only:
//
//	PSA_LISTEN_ADDRESS   host:port to listen on (e.g. 0.0.0.0:9098)
//	PSA_BASE_PATH        the routes' base path (e.g. /psa)
//	PSA_CLUSTER_API_URL  the peer's REST API (e.g. http://127.0.0.1:9094)
//	RESTAPI_USERNAME     the REST API's credentials (secrets)
//	RESTAPI_PASSWORD
//	PSA_VISIBILITY       optional Go duration: how long a write waits for
//	                     every peer to see it (default 5s)
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ipfs-cluster-aws/ipfs-cluster-aws/docker/ipfs-cluster/psa"
)

// Environment variables (constructs/node/nodespec names the same).
const (
	envListen     = "PSA_LISTEN_ADDRESS"
	envBasePath   = "PSA_BASE_PATH"
	envClusterURL = "PSA_CLUSTER_API_URL"
	envUsername   = "RESTAPI_USERNAME"
	envPassword   = "RESTAPI_PASSWORD"
	envVisibility = "PSA_VISIBILITY"
)

func main() {
	if err := run(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "pinning-service:", err)
		os.Exit(1)
	}
}

func run(getenv func(string) string) error {
	logger := log.New(os.Stderr, "", log.LstdFlags|log.LUTC)
	cfg := psa.Config{
		BasePath:   getenv(envBasePath),
		ClusterURL: getenv(envClusterURL),
		Username:   getenv(envUsername),
		Password:   getenv(envPassword),
		Log:        logger,
	}
	if v := getenv(envVisibility); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s=%q: %v", envVisibility, v, err)
		}
		cfg.Visibility = d
	}
	listen := getenv(envListen)
	if listen == "" {
		return fmt.Errorf("%s: required", envListen)
	}
	handler, err := psa.New(cfg)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              listen,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Printf("pinning-service: listening on %s%s, cluster %s", listen, cfg.BasePath, cfg.ClusterURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
