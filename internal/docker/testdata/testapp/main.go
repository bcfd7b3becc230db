// Command testapp is the workload of internal/docker's integration tests. It
// is built statically and put alone in a FROM scratch image, so each
// behaviour a test needs from inside a container is a subcommand here:
//
//	testapp serve             HTTP on :8080; /healthz fails while /state/unhealthy exists; exits 0 on SIGTERM
//	testapp healthcheck       exit 0 when the local server's /healthz answers 200
//	testapp cat FILE...       print files
//	testapp exit CODE TEXT    print TEXT on stdout and stderr, exit CODE
//	testapp sleep DURATION    sleep
//	testapp spin              burn one CPU until SIGTERM
//	testapp ignore-term       serve, ignoring SIGTERM: only SIGKILL stops it
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

const (
	listenAddr    = ":8080"
	unhealthyFlag = "/state/unhealthy"
)

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		args = []string{"serve"}
	}
	switch args[0] {
	case "serve":
		serve(true)
	case "healthcheck":
		healthcheck()
	case "cat":
		for _, f := range args[1:] {
			b, err := os.ReadFile(f)
			if err != nil {
				fail(err)
			}
			os.Stdout.Write(b)
		}
	case "exit":
		if len(args) != 3 {
			fail(errors.New("usage: exit CODE TEXT"))
		}
		code, err := strconv.Atoi(args[1])
		if err != nil {
			fail(err)
		}
		fmt.Fprintln(os.Stdout, "stdout: "+args[2])
		fmt.Fprintln(os.Stderr, "stderr: "+args[2])
		os.Exit(code)
	case "sleep":
		d, err := time.ParseDuration(args[1])
		if err != nil {
			fail(err)
		}
		time.Sleep(d)
	case "spin":
		spin()
	case "ignore-term":
		// Serving (and so turning healthy) only once SIGTERM is ignored
		// tells the test when a SIGTERM can no longer stop it.
		signal.Ignore(syscall.SIGTERM)
		serve(false)
	default:
		fail(fmt.Errorf("unknown subcommand %q", args[0]))
	}
}

// serve answers HTTP until SIGTERM, when handleTerm is set, or forever.
func serve(handleTerm bool) {
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", host)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat(unhealthyFlag); err == nil {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	srv := &http.Server{Addr: listenAddr, Handler: mux}
	if handleTerm {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		go func() {
			<-ctx.Done()
			fmt.Println("received SIGTERM, shutting down")
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdownCtx)
		}()
	}
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fail(err)
	}
}

func healthcheck() {
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get("http://127.0.0.1" + listenAddr + "/healthz")
	if err != nil {
		fail(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fail(fmt.Errorf("healthz: %s", resp.Status))
	}
}

func spin() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	n := 0
	for ctx.Err() == nil {
		for i := 0; i < 1_000_000; i++ {
			n += i
		}
	}
	fmt.Println(n > 0)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "testapp:", err)
	os.Exit(1)
}
