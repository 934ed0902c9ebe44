// Base has no extras; feature variations replace this module.
module.exports = {
    render: function () {}
};
