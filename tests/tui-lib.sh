# tui-lib.sh: driving the curses application through tmux (sourced after
# cli-lib.sh, which made $tmp): a tmux server of the test's own, the
# application in its session "app", the screen read with capture-pane.
# Skips the test (exit 77) without tmux.
command -v tmux >/dev/null 2>&1 || { echo "tmux is not installed: skipped"; exit 77; }

sock="garage-tui-$$"            # a server of our own: parallel runs don't meet
tm() { tmux -u -L "$sock" "$@"; }
trap 'tm kill-server >/dev/null 2>&1' EXIT INT TERM

screen() { tm capture-pane -p -t app 2>/dev/null; }
# settle TEXT: the terminal may be caught half drawn (curses writes a
# screen in several pieces), so look again until two captures a tenth of
# a second apart agree, or a second has passed (a running chart never
# stands still); $s keeps the last capture that still shows TEXT
settle() {
    _k=10
    while [ "$_k" -gt 0 ]; do
        sleep 0.1
        _s=$(screen)
        case $_s in *"$1"*) ;; *) return 0 ;; esac
        [ "$_s" = "$s" ] && return 0
        s=$_s
        _k=$((_k - 1))
    done
}
# wait_for TEXT [SECONDS]: until TEXT is on the screen (and the screen
# has settled)
wait_for() {
    _n=$(( ${2:-30} * 10 ))
    while [ "$_n" -gt 0 ]; do
        if ! tm has-session -t app 2>/dev/null; then
            fail "the application's terminal is gone, waiting for '$1'"
            finish
        fi
        s=$(screen)
        case $s in *"$1"*) settle "$1"; return 0 ;; esac
        sleep 0.1
        _n=$((_n - 1))
    done
    fail "timed out waiting for '$1'; the screen shows:
$s"
    finish
}
keys() { tm send-keys -t app "$@"; sleep 0.1; }
# set NAME VALUE: in a focused settings panel, find NAME and type VALUE
set_opt() { keys /; keys "$1" Enter; keys Enter C-u "$2" Enter; }

