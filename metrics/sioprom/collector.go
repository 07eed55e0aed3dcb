// Package sioprom exports the counters and gauges of a Socket.IO server
// (or of an Engine.IO server used alone) as Prometheus metrics.
//
// A Collector reads the server's Stats when Prometheus scrapes it: nothing
// is counted twice and nothing is added to the paths of packets.
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(sioprom.New(io))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The metrics of the engine:
//
//	engineio_sessions{transport}              gauge: open sessions by transport ("polling", "websocket")
//	engineio_sessions_opened_total            sessions opened
//	engineio_upgrades_total                   sessions upgraded from polling to WebSocket
//	engineio_sessions_closed_total{reason}    sessions closed, by reason ("transport close", "ping timeout", ...)
//	engineio_messages_received_total          message packets received
//	engineio_received_bytes_total             their payload bytes
//	engineio_messages_sent_total              message packets written, once per recipient
//	engineio_sent_bytes_total                 their payload bytes
//	engineio_volatile_dropped_total           volatile packets dropped
//	engineio_handler_panics_total             panics recovered from the engine's handler
//	engineio_request_errors_total{code}       requests refused, by Engine.IO error code ("0" to "5")
//
// And those of the Socket.IO server (New only):
//
//	socketio_namespaces                       gauge: namespaces
//	socketio_sockets{namespace}               gauge: connected sockets by namespace
//	socketio_rooms                            gauge: rooms of all namespaces (each socket's own room included)
//	socketio_connects_total                   sockets connected
//	socketio_recoveries_total                 connects that restored a socket (connection state recovery)
//	socketio_connect_errors_total             connections refused by a middleware
//	socketio_disconnects_total{reason}        sockets disconnected, by reason
//	socketio_ack_timeouts_total               Socket EmitWithAck timeouts
//	socketio_broadcast_ack_timeouts_total     broadcast EmitWithAck timeouts
//	socketio_handler_panics_total             panics recovered from handlers and middlewares
//
// socketio_sockets has one series per namespace. With dynamic namespaces
// (OfFunc) set socketio.Config.CleanupEmptyChildNamespaces, so that the
// namespaces, and their series, go away when they empty.
package sioprom

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/go-sio/sio/engineio"
	"github.com/go-sio/sio/socketio"
)

// Collector is a prometheus.Collector of a server's Stats.
type Collector struct {
	engine func() engineio.Stats
	sio    func() socketio.Stats // nil for an Engine.IO server
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns the collector of a Socket.IO server: the metrics of its
// engine and of its namespaces.
func New(srv *socketio.Server) *Collector {
	return &Collector{sio: srv.Stats}
}

// NewEngine returns the collector of an Engine.IO server used without the
// Socket.IO layer: the engineio_ metrics only.
func NewEngine(srv *engineio.Server) *Collector {
	return &Collector{engine: srv.Stats}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	engineSessions      = desc("engineio_sessions", "Open Engine.IO sessions, by current transport.", "transport")
	engineOpened        = desc("engineio_sessions_opened_total", "Engine.IO sessions opened.")
	engineUpgrades      = desc("engineio_upgrades_total", "Engine.IO sessions upgraded from polling to WebSocket.")
	engineClosed        = desc("engineio_sessions_closed_total", "Engine.IO sessions closed, by reason.", "reason")
	engineMsgsIn        = desc("engineio_messages_received_total", "Engine.IO message packets received from clients.")
	engineBytesIn       = desc("engineio_received_bytes_total", "Payload bytes of the Engine.IO message packets received.")
	engineMsgsOut       = desc("engineio_messages_sent_total", "Engine.IO message packets written to clients, once per recipient.")
	engineBytesOut      = desc("engineio_sent_bytes_total", "Payload bytes of the Engine.IO message packets written, once per recipient.")
	engineVolatile      = desc("engineio_volatile_dropped_total", "Volatile packets dropped because the client could not take them at once.")
	enginePanics        = desc("engineio_handler_panics_total", "Panics recovered from the Engine.IO handler.")
	engineRequestErrors = desc("engineio_request_errors_total", "HTTP requests refused with an Engine.IO error, by error code.", "code")

	sioNamespaces       = desc("socketio_namespaces", "Socket.IO namespaces on this node.")
	sioSockets          = desc("socketio_sockets", "Connected Socket.IO sockets on this node, by namespace.", "namespace")
	sioRooms            = desc("socketio_rooms", "Rooms of all namespaces on this node, the room of each socket's own id included.")
	sioConnects         = desc("socketio_connects_total", "Sockets connected to a namespace.")
	sioRecoveries       = desc("socketio_recoveries_total", "Connects that restored a disconnected socket (connection state recovery).")
	sioConnectErrors    = desc("socketio_connect_errors_total", "Connections to a namespace refused by a middleware.")
	sioDisconnects      = desc("socketio_disconnects_total", "Sockets disconnected, by reason.", "reason")
	sioAckTimeouts      = desc("socketio_ack_timeouts_total", "Socket EmitWithAck calls that timed out.")
	sioBroadcastTimeout = desc("socketio_broadcast_ack_timeouts_total", "Broadcast EmitWithAck calls that timed out.")
	sioPanics           = desc("socketio_handler_panics_total", "Panics recovered from handlers and middlewares.")
)

var engineDescs = []*prometheus.Desc{
	engineSessions, engineOpened, engineUpgrades, engineClosed, engineMsgsIn, engineBytesIn,
	engineMsgsOut, engineBytesOut, engineVolatile, enginePanics, engineRequestErrors,
}

var sioDescs = []*prometheus.Desc{
	sioNamespaces, sioSockets, sioRooms, sioConnects, sioRecoveries, sioConnectErrors, sioDisconnects,
	sioAckTimeouts, sioBroadcastTimeout, sioPanics,
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range engineDescs {
		ch <- d
	}
	if c.sio != nil {
		for _, d := range sioDescs {
			ch <- d
		}
	}
}

// Collect implements prometheus.Collector: it takes one snapshot of the
// server's Stats.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.sio == nil {
		collectEngine(ch, c.engine())
		return
	}
	st := c.sio()
	collectEngine(ch, st.Engine)

	gauge(ch, sioNamespaces, float64(len(st.Namespaces)))
	for _, ns := range st.Namespaces {
		gauge(ch, sioSockets, float64(ns.Sockets), ns.Name)
	}
	gauge(ch, sioRooms, float64(st.Rooms()))
	counter(ch, sioConnects, st.Connects)
	counter(ch, sioRecoveries, st.Recoveries)
	counter(ch, sioConnectErrors, st.ConnectErrors)
	for reason, n := range st.Disconnects {
		counter(ch, sioDisconnects, n, string(reason))
	}
	counter(ch, sioAckTimeouts, st.AckTimeouts)
	counter(ch, sioBroadcastTimeout, st.BroadcastAckTimeouts)
	counter(ch, sioPanics, st.HandlerPanics)
}

func collectEngine(ch chan<- prometheus.Metric, st engineio.Stats) {
	gauge(ch, engineSessions, float64(st.PollingSessions), engineio.Polling)
	gauge(ch, engineSessions, float64(st.WebSocketSessions), engineio.WebSocket)
	counter(ch, engineOpened, st.SessionsOpened)
	counter(ch, engineUpgrades, st.Upgrades)
	for reason, n := range st.SessionsClosed {
		counter(ch, engineClosed, n, string(reason))
	}
	counter(ch, engineMsgsIn, st.MessagesReceived)
	counter(ch, engineBytesIn, st.BytesReceived)
	counter(ch, engineMsgsOut, st.MessagesSent)
	counter(ch, engineBytesOut, st.BytesSent)
	counter(ch, engineVolatile, st.VolatileDropped)
	counter(ch, enginePanics, st.HandlerPanics)
	for code, n := range st.RequestErrors {
		counter(ch, engineRequestErrors, n, strconv.Itoa(int(code)))
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}
