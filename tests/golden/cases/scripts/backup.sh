#!/bin/bash
echo backup "$@"
