# Whether a file exists and is readable (read-only: nothing is opened for writing).
# usage: sh -c "$(cat readable.sh)" irp-readable PATH
if [ ! -e "$1" ]; then echo "state=missing"
elif [ -r "$1" ]; then echo "state=readable"
else echo "state=unreadable"
fi
exit 0
