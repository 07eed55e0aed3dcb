module github.com/go-sio/sio

go 1.26.8

require (
	github.com/gofrs/uuid/v5 v5.5.1
	github.com/lesismal/nbio v1.6.12
)
