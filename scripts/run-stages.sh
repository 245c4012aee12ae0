#!/usr/bin/env bash
# Run make targets as stages, print a summary line per stage, and fail if any stage failed.
#
#   scripts/run-stages.sh [-j N] SERIAL... [-- CONCURRENT...]
#
# SERIAL stages run one after another, in the foreground. They are the prerequisites (deps, venvs, the
# collection link): if one of them fails, nothing after it is attempted.
# CONCURRENT stages (after `--`) are independent of each other and run at the same time, at most N at once
# (default: REGOPS_STAGE_JOBS, else 3), started in the order given (put the longest first). Each one's
# output goes to build/logs/<stage>.log and is printed whole when it finishes, so outputs never interleave.
#
#   scripts/run-stages.sh deps venv venv-2.18 collection-link -- e2e e2e-2.18 sanity lint molecule ...
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAKE_BIN="${MAKE:-make}"
LOGS="${ROOT}/build/logs"
jobs="${REGOPS_STAGE_JOBS:-3}"

if [[ "${1:-}" == -j ]]; then
    jobs="$2"
    shift 2
fi
serial=()
concurrent=()
seen_sep=0
for arg in "$@"; do
    if [[ "${arg}" == -- ]]; then
        seen_sep=1
    elif [[ ${seen_sep} -eq 0 ]]; then
        serial+=("${arg}")
    else
        concurrent+=("${arg}")
    fi
done

declare -A result=() duration=() cpu=()
order=("${serial[@]}" "${concurrent[@]}")
overall_start=${SECONDS}
mkdir -p "${LOGS}"

# Background stages get their own process group (job control), so that SIGINT is not ignored in them
# (a non-interactive shell starts `&` jobs with SIGINT ignored, which Python children inherit) and so
# that an interrupted run can stop each of them as a whole.
set -m
declare -A pid_stage=() stage_start=()
stop_all() {
    local pid
    for pid in "${!pid_stage[@]}"; do
        kill -TERM -- "-${pid}" 2>/dev/null || true
    done
}
trap 'stop_all; exit 130' INT TERM

# make STAGE, then write the CPU time (user + sys) of everything it ran to build/logs/STAGE.cpu
make_stage() {
    local stage="$1" rc
    "${MAKE_BIN}" -C "${ROOT}" --no-print-directory "${stage}" </dev/null
    rc=$?
    # `times` must run in this shell (not in a pipeline's subshell) to see the children's times
    times >"${LOGS}/${stage}.times"
    awk 'NR == 2 {
        split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%d\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] + 0.5 }' "${LOGS}/${stage}.times" >"${LOGS}/${stage}.cpu"
    return "${rc}"
}

read_cpu() {
    cpu[$1]="$(cat "${LOGS}/$1.cpu" 2>/dev/null || echo "?")"
}

run_serial() {
    local stage="$1" start rc
    echo
    echo "################ make ${stage} ################"
    start=${SECONDS}
    (make_stage "${stage}")
    rc=$?
    read_cpu "${stage}"
    duration[${stage}]=$((SECONDS - start))
    if [[ ${rc} -eq 0 ]]; then result[${stage}]="PASSED"; else result[${stage}]="FAILED (exit ${rc})"; fi
    return "${rc}"
}

abort=0
for stage in "${serial[@]}"; do
    if [[ ${abort} -eq 1 ]]; then
        result[${stage}]="NOT RUN"
        duration[${stage}]=0
        cpu[${stage}]=0
        continue
    fi
    run_serial "${stage}" || abort=1
done

finish() {
    # reap one finished background stage and print its log
    local pid="$1" rc="$2" stage
    stage="${pid_stage[${pid}]}"
    unset "pid_stage[${pid}]"
    duration[${stage}]=$((SECONDS - stage_start[${stage}]))
    read_cpu "${stage}"
    if [[ ${rc} -eq 0 ]]; then result[${stage}]="PASSED"; else result[${stage}]="FAILED (exit ${rc})"; fi
    echo
    echo "################ make ${stage}: ${result[${stage}]} in ${duration[${stage}]}s, ${cpu[${stage}]} CPU-s (log: build/logs/${stage}.log) ################"
    cat "${LOGS}/${stage}.log"
}

if [[ ${#concurrent[@]} -gt 0 ]]; then
    if [[ ${abort} -eq 1 ]]; then
        for stage in "${concurrent[@]}"; do
            result[${stage}]="NOT RUN"
            duration[${stage}]=0
            cpu[${stage}]=0
        done
    else
        echo
        echo "################ ${#concurrent[@]} independent stages, ${jobs} at a time: ${concurrent[*]} ################"
        next=0
        while [[ ${next} -lt ${#concurrent[@]} || ${#pid_stage[@]} -gt 0 ]]; do
            while [[ ${next} -lt ${#concurrent[@]} && ${#pid_stage[@]} -lt ${jobs} ]]; do
                stage="${concurrent[${next}]}"
                next=$((next + 1))
                stage_start[${stage}]=${SECONDS}
                (make_stage "${stage}") >"${LOGS}/${stage}.log" 2>&1 &
                pid_stage[$!]="${stage}"
                echo "started make ${stage}"
            done
            # wait for any one stage to end (bash >= 5.1 reports which)
            finished_pid=""
            wait -n -p finished_pid "${!pid_stage[@]}"
            rc=$?
            if [[ -n "${finished_pid}" && -n "${pid_stage[${finished_pid}]:-}" ]]; then
                finish "${finished_pid}" "${rc}"
            fi
        done
    fi
fi

failed=0
echo
echo "================ make test summary ================"
printf '%-16s %-16s %6s %8s\n' stage result wall CPU
for stage in "${order[@]}"; do
    printf '%-16s %-16s %5ss %7ss\n' "${stage}" "${result[${stage}]}" "${duration[${stage}]}" "${cpu[${stage}]}"
    if [[ "${result[${stage}]}" != PASSED ]]; then
        failed=$((failed + 1))
    fi
done
total=$((SECONDS - overall_start))
total_cpu=0
for stage in "${order[@]}"; do
    [[ "${cpu[${stage}]}" =~ ^[0-9]+$ ]] && total_cpu=$((total_cpu + cpu[${stage}]))
done
echo "wall ${total}s, CPU ${total_cpu}s (user + sys of every stage, on $(nproc 2>/dev/null || echo '?') cores)"
if [[ ${failed} -gt 0 ]]; then
    echo "make test: ${failed} of ${#order[@]} stage(s) did not pass (${total}s)"
    exit 1
fi
echo "make test: all ${#order[@]} stages passed (${total}s)"
